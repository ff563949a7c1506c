package dev.mailgate.outcome;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.LoggingEventBuilder;

import dev.mailgate.text.Text;

/**
 * The record of every outcome: one structured line on the {@code mailgate.delivery} logger ({@code key=value}
 * pairs in the text, the same pairs as fields in JSON logs), the delivery metrics, and each mailbox's last success
 * and failure for the health report. Never bodies, never tokens: ids, addresses, counts and the server's reply.
 */
public final class DeliveryLog {

    /** The logger of the delivery lines, to route or silence them on their own. */
    public static final String LOGGER = "mailgate.delivery";
    private static final Logger LOG = LoggerFactory.getLogger(LOGGER);
    /** A value with white space, a quote, {@code =} or a backslash is quoted. */
    private static final Pattern NEEDS_QUOTES = Pattern.compile("[\\s\"=\\\\]");
    /** Send latency buckets: a warm connection answers in milliseconds, Exchange Online's AUTH can take seconds. */
    private static final Duration[] BUCKETS = {Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
        Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
        Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60)};

    /** The last outcomes seen for a mailbox. */
    public record MailboxActivity(Instant lastSuccess, Instant lastFailure, String lastFailureReason) {
    }

    /** Mailboxes whose activity is kept for the health report; beyond it new ones are not tracked. */
    static final int MAX_MAILBOXES = 1000;

    private final MeterRegistry metrics;
    /** By lower-cased address, as the mailbox holds are. */
    private final Map<String, MailboxActivity> mailboxes = new ConcurrentHashMap<>();

    public DeliveryLog(MeterRegistry metrics) {
        this.metrics = metrics;
    }

    /** The server accepted the message. */
    public void sent(String channel, Receipt receipt, Duration took) {
        Map<String, Object> line = line("sent", receipt.id(), channel, receipt.mailbox());
        line.put("recipients", receipt.recipients());
        line.put("messageId", receipt.messageId());
        line.put("attempt", receipt.attempts());
        line.put("durationMs", took == null ? null : took.toMillis());
        line.put("server", receipt.server());
        line.put("reply", receipt.serverReply());
        if (receipt.sandbox()) {
            line.put("sandbox", true);
        }
        write(LOG.atInfo(), line);
        counter("mailgate.messages.sent", "Messages the SMTP server accepted", channel, receipt.mailbox()).increment();
        if (took != null) {
            Timer.builder("mailgate.send.duration").description("From the start of an attempt to the server's reply")
                    .tag("mailbox", tag(receipt.mailbox())).serviceLevelObjectives(BUCKETS)
                    .register(metrics).record(took.toNanos(), TimeUnit.NANOSECONDS);
        }
        track(receipt.mailbox(), a -> new MailboxActivity(receipt.sentAt(), a == null ? null : a.lastFailure(),
                a == null ? null : a.lastFailureReason()));
    }

    /** An attempt failed and the request will be tried again at {@code next}. */
    public void retrying(Journal.Ref ref, String mailbox, int attempt, Failure failure, Instant next, Duration took) {
        Map<String, Object> line = failureLine("retrying", ref, mailbox, attempt, failure, took);
        line.put("next", next);
        write(LOG.atWarn(), line);
        if (took != null) {
            attemptFailed(ref.channel(), mailbox, failure);
        }
        counter("mailgate.messages.retried", "Requests put back for a later attempt", ref.channel(), mailbox)
                .increment();
    }

    /** The request will not be sent: it is dead-lettered with its reason. */
    public void failed(Journal.Ref ref, String mailbox, int attempts, Failure failure, Duration took) {
        Map<String, Object> line = failureLine("failed", ref, mailbox, attempts, failure, took);
        line.put("fix", failure.advice());
        write(LOG.atWarn(), line);
        if (took != null) {
            // an attempt was made in this delivery (not a request refused before reaching the server)
            attemptFailed(ref.channel(), mailbox, failure);
        }
        counter("mailgate.messages.dead.lettered", "Requests given up on (failed, with their reason)", ref.channel(),
                mailbox).increment();
    }

    /** The sending mailbox may not send yet (pacing, quota, a hold, another copy in flight). */
    public void waited(String mailbox, String kind) {
        metrics.counter("mailgate.pacing.waits", "mailbox", tag(mailbox), "kind", kind).increment();
    }

    public Optional<MailboxActivity> activity(String mailbox) {
        return Optional.ofNullable(mailboxes.get(key(mailbox)));
    }

    public Map<String, MailboxActivity> activity() {
        return Map.copyOf(mailboxes);
    }

    private void attemptFailed(String channel, String mailbox, Failure failure) {
        metrics.counter("mailgate.send.failures", "channel", tag(channel), "mailbox", tag(mailbox), "category",
                failure.category().label()).increment();
        Instant now = Instant.now();
        track(mailbox, a -> new MailboxActivity(a == null ? null : a.lastSuccess(), now, failure.reason()));
    }

    private void track(String mailbox, java.util.function.UnaryOperator<MailboxActivity> update) {
        String key = key(mailbox);
        if (key == null || mailboxes.size() >= MAX_MAILBOXES && !mailboxes.containsKey(key)) {
            return;
        }
        mailboxes.compute(key, (m, a) -> update.apply(a));
    }

    private static String key(String mailbox) {
        return mailbox == null ? null : mailbox.toLowerCase(java.util.Locale.ROOT);
    }

    private Map<String, Object> failureLine(String outcome, Journal.Ref ref, String mailbox, int attempts,
            Failure failure, Duration took) {
        Map<String, Object> line = line(outcome, ref.id(), ref.channel(), mailbox);
        line.put("source", ref.source());
        line.put("attempt", attempts);
        line.put("durationMs", took == null ? null : took.toMillis());
        line.put("category", failure.category().label());
        line.put("reason", failure.reason());
        line.put("reply", failure.serverReply());
        return line;
    }

    private static Map<String, Object> line(String outcome, String id, String channel, String mailbox) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("outcome", outcome);
        line.put("id", id);
        line.put("channel", channel);
        line.put("mailbox", mailbox);
        return line;
    }

    private Counter counter(String name, String description, String channel, String mailbox) {
        return Counter.builder(name).description(description).tag("channel", tag(channel))
                .tag("mailbox", tag(mailbox)).register(metrics);
    }

    /** Mailboxes lower-cased (one series per mailbox however it was written); {@code none} when unknown. */
    private static String tag(String value) {
        return value == null ? "none" : value.toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * {@code outcome=sent id=... reply="250 2.0.0 OK"}: values with spaces, quotes, {@code =} or backslashes quoted,
     * backslashes and quotes escaped ({@code \\}, {@code \"}), line breaks and control characters escaped
     * ({@code \n}, {@code \u001b}): no value can end its quotes early and pose as more fields or lines.
     */
    private static void write(LoggingEventBuilder event, Map<String, Object> line) {
        StringBuilder text = new StringBuilder();
        line.forEach((key, value) -> {
            if (value == null) {
                return;
            }
            String raw = String.valueOf(value);
            event.addKeyValue(key, value instanceof Number || value instanceof Boolean ? value : Text.printable(raw));
            text.append(text.isEmpty() ? "" : " ").append(key).append('=');
            if (raw.isEmpty() || NEEDS_QUOTES.matcher(raw).find() || !raw.equals(Text.printable(raw))) {
                text.append('"').append(Text.printable(raw.replace("\\", "\\\\").replace("\"", "\\\"")))
                        .append('"');
            } else {
                text.append(raw);
            }
        });
        event.log(text.toString());
    }
}
