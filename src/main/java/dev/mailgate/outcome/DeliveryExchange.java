package dev.mailgate.outcome;

import java.time.Instant;

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
    /**
     * The channel route's outcome routes: {@code direct:<this>-later} and {@code direct:<this>-failed} (e.g.
     * {@code mailgate-jms}), which the route configuration {@code mailgate-delivery} calls after its decision.
     */
    public static final String OUTCOMES = "mailgateOutcomes";
    /** The decision about a failed attempt: {@code later}, {@code failed} or {@code pending}. */
    public static final String OUTCOME = "mailgateOutcome";
    private static final String NEXT_ATTEMPT = "mailgate.nextAttempt";
    private static final String FAILURE = "mailgate.failure";
    private static final String RECEIPT = "mailgate.receipt";
    private static final String CAN_WAIT = "mailgate.canWait";
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

    /**
     * Marks the start of a request's delivery: its id, channel and source, and the channel route's outcome routes
     * ({@link #OUTCOMES}).
     */
    public static String begin(Exchange exchange, String id, String channel, String source, String outcomes) {
        exchange.setProperty(ID, id);
        exchange.setProperty(CHANNEL, channel);
        exchange.setProperty(SOURCE, Text.printable(source));
        exchange.setProperty(OUTCOMES, outcomes);
        return id;
    }

    /** Whether the channel can put this request back for a later attempt (it has what it needs to queue it again). */
    public static void canWait(Exchange exchange, boolean canWait) {
        exchange.setProperty(CAN_WAIT, canWait);
    }

    public static boolean canWait(Exchange exchange) {
        return exchange.getProperty(CAN_WAIT, false, Boolean.class);
    }

    /** The decision: try again at {@code at}; the channel's {@code -later} route arranges it durably. */
    public static void later(Exchange exchange, Instant at) {
        exchange.setProperty(OUTCOME, "later");
        exchange.setProperty(NEXT_ATTEMPT, at);
    }

    public static Instant nextAttempt(Exchange exchange) {
        return exchange.getProperty(NEXT_ATTEMPT, Instant.class);
    }

    /** The decision: the request failed for good; the channel's {@code -failed} route reports it. */
    public static void failed(Exchange exchange, Failure failure) {
        exchange.setProperty(OUTCOME, "failed");
        exchange.setProperty(FAILURE, failure);
    }

    public static Failure failure(Exchange exchange) {
        return exchange.getProperty(FAILURE, Failure.class);
    }

    /** The decision: neither sent nor failed (Mailgate is stopping); the exchange is rolled back. */
    public static void pending(Exchange exchange) {
        exchange.setProperty(OUTCOME, "pending");
        exchange.setRollbackOnly(true);
    }

    /** The server took the message: its receipt, for the channel's own step after the delivery route. */
    public static void sent(Exchange exchange, Receipt receipt) {
        exchange.setProperty(RECEIPT, receipt);
    }

    public static Receipt receipt(Exchange exchange) {
        return exchange.getProperty(RECEIPT, Receipt.class);
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
