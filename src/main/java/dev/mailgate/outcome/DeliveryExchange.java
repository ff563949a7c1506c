package dev.mailgate.outcome;

import java.time.Instant;
import java.util.UUID;

import org.apache.camel.Exchange;

import dev.mailgate.text.Text;

/**
 * The exchange properties a request carries through the shared delivery path. Properties, not headers:
 * camel-mail turns headers into MIME headers, and inbound headers are never trusted.
 */
public final class DeliveryExchange {

    /** The delivery id: receipts, logs, the Message-ID and X-Mailgate-Id all carry it. */
    public static final String ID = "mailgate.id";
    /** Where the request came from, for people: {@code outbox/orders/123.json}. */
    public static final String SOURCE = "mailgate.source";
    public static final String HANDLER = "mailgate.outcomeHandler";
    public static final String CHANNEL = "mailgate.channel";
    private static final String PRINCIPAL = "mailgate.principal";
    private static final String ATTEMPTS = "mailgate.attempts";
    private static final String FIRST_SEEN = "mailgate.firstSeen";
    private static final String PACED_SLOT = "mailgate.pacedSlot";
    private static final String MAILBOX = "mailgate.mailbox";
    private static final String FROM = "mailgate.from";
    private static final String ATTEMPT_STARTED = "mailgate.attemptStarted";

    private DeliveryExchange() {
    }

    /** Marks the start of a request's delivery: gives it an id and says who hears the outcome. */
    public static String begin(Exchange exchange, String channel, String source, OutcomeHandler handler) {
        return begin(exchange, UUID.randomUUID().toString(), channel, source, handler);
    }

    /** The same, for a request that already has its delivery id (queued by the HTTP API). */
    public static String begin(Exchange exchange, String id, String channel, String source, OutcomeHandler handler) {
        exchange.setProperty(ID, id);
        exchange.setProperty(CHANNEL, channel);
        exchange.setProperty(SOURCE, Text.printable(source));
        exchange.setProperty(HANDLER, handler);
        return id;
    }

    /**
     * Carries on a request that was tried before (a scheduled retry taken from the queue): the attempts already made
     * and when it first arrived count towards giving up.
     */
    public static void resume(Exchange exchange, int attemptsMade, Instant firstSeen) {
        if (attemptsMade > 0) {
            exchange.setProperty(ATTEMPTS, attemptsMade);
        }
        exchange.setProperty(FIRST_SEEN, firstSeen);
    }

    /** The mailbox this request is sent as, once known (validated), or {@code null}. */
    /** The request's sender address, when it is sent as by another mailbox (Send As); else {@code null}. */
    public static String sendAs(Exchange exchange) {
        return exchange.getProperty(FROM, String.class);
    }

    public static void sendAs(Exchange exchange, String from) {
        exchange.setProperty(FROM, from);
    }

    public static String mailbox(Exchange exchange) {
        return exchange.getProperty(MAILBOX, String.class);
    }

    public static void mailbox(Exchange exchange, String mailbox) {
        exchange.setProperty(MAILBOX, mailbox);
    }

    /** When this paced request was due (its place in its mailbox's line), or {@code null}. */
    public static Instant pacedSlot(Exchange exchange) {
        return exchange.getProperty(PACED_SLOT, Instant.class);
    }

    public static void pacedSlot(Exchange exchange, Instant slot) {
        exchange.setProperty(PACED_SLOT, slot);
    }

    /** When the request first arrived (now, for a new one). */
    public static Instant firstSeen(Exchange exchange) {
        Instant first = exchange.getProperty(FIRST_SEEN, Instant.class);
        return first != null ? first : Instant.ofEpochMilli(exchange.getClock().getCreated());
    }

    /**
     * Restarts the clock of giving up: a request held with its mailbox gets its full {@code give-up-after} once the
     * mailbox sends again.
     */
    public static void waitedUntil(Exchange exchange, Instant now) {
        exchange.setProperty(FIRST_SEEN, now);
    }

    /** The request's journal reference. */
    public static Journal.Ref ref(Exchange exchange) {
        String channel = exchange.getProperty(CHANNEL, "unknown", String.class);
        return new Journal.Ref(id(exchange), channel, source(exchange), exchange.getProperty(PRINCIPAL, channel,
                String.class));
    }

    /** Who sent the request ({@link Journal.Ref#principal()}); by default, its channel. */
    public static void principal(Exchange exchange, String principal) {
        exchange.setProperty(PRINCIPAL, principal);
    }

    public static String id(Exchange exchange) {
        return exchange.getProperty(ID, String.class);
    }

    public static String source(Exchange exchange) {
        return exchange.getProperty(SOURCE, "(unknown)", String.class);
    }

    public static OutcomeHandler handler(Exchange exchange) {
        OutcomeHandler handler = exchange.getProperty(HANDLER, OutcomeHandler.class);
        if (handler == null) {
            throw new IllegalStateException("route " + exchange.getFromRouteId() + " sends to the delivery path "
                    + "without DeliveryExchange.begin(); use one of Mailgate's channel templates");
        }
        return handler;
    }

    /** Counts a try at sending; the shared delivery path calls it once per attempt. */
    public static void attempt(Exchange exchange) {
        Integer done = exchange.getProperty(ATTEMPTS, Integer.class);
        exchange.setProperty(ATTEMPTS, done == null ? 1 : done + 1);
        exchange.setProperty(ATTEMPT_STARTED, System.nanoTime());
    }

    /** How long the current attempt has taken so far, or {@code null} when no attempt was made. */
    public static java.time.Duration attemptDuration(Exchange exchange) {
        Long started = exchange.getProperty(ATTEMPT_STARTED, Long.class);
        return started == null ? null : java.time.Duration.ofNanos(System.nanoTime() - started);
    }

    /** 1 for the first try, 2 after one retry, and so on. */
    public static int attempts(Exchange exchange) {
        return exchange.getProperty(ATTEMPTS, 1, Integer.class);
    }

    /** Attempts made so far, none for a request that has not reached the server yet. */
    public static int attemptsMade(Exchange exchange) {
        return exchange.getProperty(ATTEMPTS, 0, Integer.class);
    }
}
