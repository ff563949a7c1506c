package dev.mailgate.channel.jms;

import org.apache.activemq.artemis.api.core.ActiveMQException;
import org.apache.activemq.artemis.api.core.ActiveMQExceptionType;
import org.apache.activemq.artemis.api.core.ICoreMessage;
import org.apache.activemq.artemis.api.core.Message;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.filter.impl.FilterImpl;
import org.apache.activemq.artemis.core.server.ActiveMQServer;
import org.apache.activemq.artemis.core.server.LargeServerMessage;
import org.apache.activemq.artemis.core.server.Queue;
import org.apache.activemq.artemis.core.server.RoutingContext;
import org.apache.activemq.artemis.core.server.ServerSession;
import org.apache.activemq.artemis.core.server.plugin.ActiveMQServerMessagePlugin;
import org.apache.activemq.artemis.core.transaction.Transaction;

/**
 * Keeps requests larger than {@value #KEY} off the heap. A JMS consumer cannot look at a message's size before its
 * body is read: Artemis' JMS client reads the whole of a large message into memory when it is received
 * ({@code ActiveMQMessage.doBeforeReceive} → {@code ClientLargeMessageImpl.checkBuffer}), and a TextMessage keeps its
 * text as UTF-16, so a 60 MB JSON text is 120 MB on the heap before Mailgate sees a byte of it, and a heap that runs
 * out rolls the delivery back: the message came back after every restart. So the size is enforced where the body
 * is still a file:
 * <ul>
 * <li>the embedded broker refuses such a message when it is sent ({@link #beforeSend}, called once the last chunk of a
 * large message is on disk): the producer's {@code send} fails with the limit in its message and nothing is kept,
 * so nothing is lost;</li>
 * <li>the consumer's {@link #selector} leaves any that are on the queue anyway (sent before this check existed, or to
 * an external broker) where they are, and the embedded broker moves those to the dead-letter queue at start
 * ({@link #sweep}) without reading them, with the reason as properties ({@link #beforeMessageRoute}).</li>
 * </ul>
 * Compressed large messages are refused too: their stored size says nothing about what they inflate to.
 */
public final class OversizedRequests implements ActiveMQServerMessagePlugin {

    /** The limit: a request's JSON may not be larger than the largest mail it may become. */
    public static final String KEY = "mailgate.limits.max-message-size";
    /** What Artemis says a large message's body is, in bytes as stored (a TextMessage's: two bytes a character). */
    private static final String LARGE_SIZE = Message.HDR_LARGE_BODY_SIZE.toString();
    private static final SimpleString COMPRESSED = Message.HDR_LARGE_COMPRESSED;
    /** A TextMessage's body: a null flag and the length (5 bytes), then the text as UTF-16. */
    private static final int TEXT_HEADER = 5;

    private final long maxBytes;
    private final String deadLetters;

    public OversizedRequests(long maxBytes, String deadLetters) {
        this.maxBytes = maxBytes;
        this.deadLetters = deadLetters;
    }

    /**
     * The JMS selector that keeps a consumer from receiving what it could not hold: a large message whose stored body
     * is more than a text of {@code maxBytes} characters takes, or a compressed one.
     */
    public static String selector(long maxBytes) {
        return "(" + COMPRESSED + " IS NULL OR " + COMPRESSED + " = FALSE) AND (" + LARGE_SIZE + " IS NULL OR "
                + LARGE_SIZE + " <= " + (2 * maxBytes + TEXT_HEADER) + ")";
    }

    /** Why a request of {@code size} bytes is refused, naming the limit and the fix. */
    public static String tooLarge(long size, long maxBytes) {
        return "the request is " + size + " bytes, more than " + KEY + " (" + maxBytes + " bytes) allows: no mail "
                + "that large can be sent; put large files in the attachments folder and name them by path, or raise "
                + KEY + " if your mail server takes larger mail";
    }

    @Override
    public void beforeSend(ServerSession session, Transaction tx, Message message, boolean direct,
            boolean noAutoCreateQueues) throws ActiveMQException {
        if (deadLetters.equals(String.valueOf(message.getAddress()))) {
            // the gateway's own dead letters: what was refused here never got as far
            return;
        }
        // the properties the consumer's selector trusts are the broker's to set: on an ordinary message a client could
        // make a small request look too large (or compressed) to be received, and it would wait unread on the queue
        SimpleString forged = message instanceof LargeServerMessage ? null
                : message.containsProperty(Message.HDR_LARGE_BODY_SIZE) ? Message.HDR_LARGE_BODY_SIZE
                : message.containsProperty(COMPRESSED) ? COMPRESSED : null;
        String problem = forged != null ? "it carries " + forged + ", a property only the broker sets on large "
                + "messages; send the request without it" : problem(message);
        if (problem != null) {
            throw new ActiveMQException(ActiveMQExceptionType.GENERIC_EXCEPTION, "Mailgate refused the message: "
                    + problem);
        }
    }

    /** A message {@link #sweep} moves to the dead-letter queue gets the reason, as Mailgate's own dead letters do. */
    @Override
    public void beforeMessageRoute(Message message, RoutingContext context, boolean direct, boolean rejectDuplicates) {
        if (deadLetters.equals(String.valueOf(message.getAddress())) && !message.containsProperty("mailgateReason")) {
            String problem = problem(message);
            if (problem != null) {
                message.putStringProperty("mailgateCategory", "invalid-request");
                message.putStringProperty("mailgateReason", problem);
                message.putStringProperty("mailgateFix", "the message was not read; send a smaller request");
                message.putStringProperty("mailgateFailedAt", java.time.Instant.now().toString());
            }
        }
    }

    /**
     * Moves the messages waiting in {@code queue} that the consumer's {@link #selector} leaves there to the dead-letter
     * queue, on the broker, without reading their bodies. Returns how many.
     */
    public int sweep(ActiveMQServer server, String queue) throws Exception {
        Queue waiting = server.locateQueue(SimpleString.of(queue));
        if (waiting == null) {
            return 0;
        }
        return waiting.sendMessagesToDeadLetterAddress(FilterImpl.createFilter("NOT (" + selector(maxBytes) + ")"));
    }

    /** Why {@code message} may not be consumed, or {@code null}. */
    private String problem(Message message) {
        if (Boolean.TRUE.equals(message.getObjectProperty(COMPRESSED))) {
            return "it is a compressed large message, which could inflate to any size; send it without "
                    + "compressLargeMessages";
        }
        long size = requestBytes(message);
        return size > maxBytes ? tooLarge(size, maxBytes) : null;
    }

    /** The request's size as the consumer would read it: a text's characters (at least its UTF-8 bytes), or bytes. */
    static long requestBytes(Message message) {
        long body;
        try {
            body = message instanceof LargeServerMessage large ? large.getLargeBody().getBodySize()
                    : message instanceof ICoreMessage core ? core.getBodyBufferSize() : message.getWholeMessageSize();
        } catch (ActiveMQException e) {
            body = message.getWholeMessageSize();
        }
        return message.getType() == Message.TEXT_TYPE ? Math.max(0, body - TEXT_HEADER) / 2 : body;
    }
}
