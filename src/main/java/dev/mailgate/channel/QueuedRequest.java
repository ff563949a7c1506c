package dev.mailgate.channel;

/**
 * The JMS properties Mailgate's own channels put on the requests they hand to the queue. The JMS channel trusts
 * them only for ids the journal knows as queued by Mailgate.
 */
public final class QueuedRequest {

    /** The delivery id the channel recorded (and, for HTTP, answered with). */
    public static final String ID = "mailgateId";
    /** For outbox requests: the file in {@code .queued/} that waits for the outcome. */
    public static final String FILE = "mailgateFile";

    private QueuedRequest() {
    }
}
