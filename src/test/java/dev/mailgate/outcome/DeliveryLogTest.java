package dev.mailgate.outcome;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/** The delivery line's form, and what the metrics and the per-mailbox record count. */
class DeliveryLogTest {

    private final SimpleMeterRegistry metrics = new SimpleMeterRegistry();
    private final DeliveryLog log = new DeliveryLog(metrics);
    private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(DeliveryLog.LOGGER);

    @BeforeEach
    void capture() {
        lines.start();
        logger.addAppender(lines);
    }

    @AfterEach
    void release() {
        logger.detachAppender(lines);
    }

    @Test
    void a_value_cannot_end_its_quotes_early_and_pose_as_more_fields() {
        Journal.Ref ref = new Journal.Ref("id-1", "outbox", "outbox/x\\\" outcome=sent mailbox=ceo@x.com");
        log.failed(ref, "a@contoso.com", 1, new Failure(Failure.Category.PERMANENT, "refused \"for good\" \\",
                "fix it"), Duration.ofMillis(5));

        Map<String, String> fields = logfmt(lines.list.get(0).getFormattedMessage());
        assertThat(fields).containsOnlyKeys("outcome", "id", "channel", "mailbox", "source", "attempt", "durationMs",
                "category", "reason", "fix");
        assertThat(fields).containsEntry("outcome", "failed").containsEntry("mailbox", "a@contoso.com")
                .containsEntry("source", "outbox/x\\\" outcome=sent mailbox=ceo@x.com")
                .containsEntry("reason", "refused \"for good\" \\");
    }

    @Test
    void line_breaks_and_escape_codes_are_shown_escaped() {
        log.failed(new Journal.Ref("id-2", "outbox", "outbox/a\nb\u001b[2J"), null, 0,
                new Failure(Failure.Category.INVALID_REQUEST, "bad", "fix"), null);

        String line = lines.list.get(0).getFormattedMessage();
        assertThat(line).doesNotContain("\n", "\u001b");
        assertThat(logfmt(line).get("source")).isEqualTo("outbox/a\\nb\\u001b[2J");
    }

    @Test
    void a_mailbox_is_one_mailbox_however_it_is_written() {
        log.sent("http", new Receipt("id-3", "<m@x>", "Sender@Contoso.test", 1, "250 OK", Instant.now(), "s:587", 1,
                false), Duration.ofMillis(10));
        log.retrying(new Journal.Ref("id-4", "http", "HTTP"), "sender@contoso.test", 1,
                new Failure(Failure.Category.TRANSIENT, "busy", "wait"), Instant.now(), Duration.ofMillis(3));

        assertThat(log.activity()).containsOnlyKeys("sender@contoso.test");
        DeliveryLog.MailboxActivity seen = log.activity("SENDER@contoso.test").orElseThrow();
        assertThat(seen.lastSuccess()).isNotNull();
        assertThat(seen.lastFailureReason()).isEqualTo("busy");
        assertThat(metrics.get("mailgate.messages.sent").tag("mailbox", "sender@contoso.test").counter().count())
                .isEqualTo(1.0);
        assertThat(metrics.get("mailgate.send.failures").tag("mailbox", "sender@contoso.test").counter().count())
                .isEqualTo(1.0);
    }

    @Test
    void a_request_refused_before_any_attempt_is_dead_lettered_but_not_counted_as_a_failed_attempt() {
        log.failed(new Journal.Ref("id-5", "jms", "JMS"), null, 2, new Failure(Failure.Category.INVALID_REQUEST,
                "template gone", "restore it"), null);

        assertThat(metrics.get("mailgate.messages.dead.lettered").counter().count()).isEqualTo(1.0);
        assertThat(metrics.find("mailgate.send.failures").counters()).isEmpty();
    }

    /** A small logfmt reader: key=value, values in quotes with \\ and \" escapes. */
    private static Map<String, String> logfmt(String line) {
        Map<String, String> fields = new LinkedHashMap<>();
        int i = 0;
        while (i < line.length()) {
            int eq = line.indexOf('=', i);
            String key = line.substring(i, eq);
            StringBuilder value = new StringBuilder();
            i = eq + 1;
            if (i < line.length() && line.charAt(i) == '"') {
                for (i++; line.charAt(i) != '"'; i++) {
                    if (line.charAt(i) == '\\' && (line.charAt(i + 1) == '"' || line.charAt(i + 1) == '\\')) {
                        i++;
                    }
                    value.append(line.charAt(i));
                }
                i++;
            } else {
                while (i < line.length() && line.charAt(i) != ' ') {
                    value.append(line.charAt(i++));
                }
            }
            fields.put(key, value.toString());
            while (i < line.length() && line.charAt(i) == ' ') {
                i++;
            }
        }
        assertThat(List.copyOf(fields.keySet())).doesNotHaveDuplicates();
        return fields;
    }
}
