package dev.mailgate.channel.jms;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

import jakarta.jms.BytesMessage;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.TextMessage;

import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.channel.QueuedRequest;
import dev.mailgate.channel.Uploads;
import dev.mailgate.channel.outbox.OutboxFiles;
import dev.mailgate.outcome.Admission;
import dev.mailgate.outcome.DeliveryExchange;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;
import dev.mailgate.outcome.Receipt;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestReader;
import dev.mailgate.request.MailRequestValidator;

/**
 * The Java side of the JMS channel. A message's body is MailRequest JSON (a TextMessage, or UTF-8 in a
 * BytesMessage); its JMS properties are read for the delivery id only and never reach the mail or Camel's
 * routing. The consuming route is transacted: the message is acknowledged when the server accepted the mail,
 * or after it was copied to the dead-letter queue with the reason as message properties.
 */
public final class JmsChannel {

    /** The bean whose methods are the steps of the JMS route template and of its outcome routes. */
    public static final String BEAN = "mailgateJms";
    /** {@code true} when {@link #deadLetter} prepared a dead letter for the dead-letter queue. */
    public static final String DEAD_LETTER = "mailgateDeadLetter";
    /** The queue a message was consumed from, where its retry goes. */
    public static final String QUEUE = "mailgateQueue";

    private static final Logger LOG = LoggerFactory.getLogger(JmsChannel.class);
    private static final Pattern UUID_TEXT = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final String BODY = "mailgate.jmsBody";
    private static final String WAITING_FILE = "mailgate.outboxFile";
    /** Whether the request may name the files in Mailgate's own folders of the uploads (a Boolean). */
    private static final String OWN_FILES = "mailgate.ownFiles";
    /** Artemis's property for a message that becomes deliverable only at the given epoch millisecond. */
    private static final String SCHEDULED_DELIVERY = "_AMQ_SCHED_DELIVERY";
    private static final String WHERE = "the JMS attachments folder (mailgate.jms.attachments-dir)";

    private final MailRequestValidator validator;
    private final Journal journal;
    private final Uploads uploads;
    private final OutboxFiles outboxFiles;
    /** Where Mailgate's own requests name their files: their folders in the uploads included. */
    private final AttachmentRoot attachments;
    /** Where other programs' requests name files: Mailgate's folders for the requests it queued are not theirs. */
    private final AttachmentRoot clientAttachments;
    private final QueuedRequest signer;
    private final boolean brokerNamesSender;
    private final long maxRequestBytes;

    /**
     * @param brokerNamesSender whether the broker stamps every message with the user that sent it (the embedded one
     *        does; an external one may not, and then a client could write the stamp itself)
     */
    public JmsChannel(MailRequestValidator validator, Journal journal, Uploads uploads, OutboxFiles outboxFiles,
            QueuedRequest signer, boolean brokerNamesSender, long maxRequestBytes) {
        this.signer = signer;
        this.maxRequestBytes = maxRequestBytes;
        this.brokerNamesSender = brokerNamesSender;
        this.validator = validator;
        this.journal = journal;
        this.uploads = uploads;
        this.outboxFiles = outboxFiles;
        this.attachments = new AttachmentRoot(uploads.root(), WHERE);
        this.clientAttachments = attachments.reserving(Uploads::isRequestFolder, "is in a folder Mailgate keeps for a "
                + "request it queued itself (named by its delivery id); a JMS client may attach only its own files: "
                + "put them in a folder of your own in " + WHERE + ", e.g. <your application>/report.pdf");
    }

    /**
     * Reads the consumed message into a {@link MailRequest}, after stripping every inbound header: the first step of
     * the {@code mailgate-jms} route template ({@code mailgate/mailgate-jms.yaml}).
     */
    public void readRequest(Exchange exchange) throws Exception {
        readRequest(exchange, exchange.getFromEndpoint().getEndpointUri().replaceFirst("^jms://queue:", "")
                .replaceFirst("\\?.*", ""));
    }

    private void readRequest(Exchange exchange, String queue) throws Exception {
        Message message = exchange.getIn().getMandatoryBody(Message.class);
        String jmsId = message.getJMSMessageID();
        byte[] body = null;
        InvalidRequestException unreadable = null;
        try {
            body = body(message);
        } catch (InvalidRequestException e) {
            unreadable = e;
        }
        // Mailgate's own properties count only when Mailgate signed them, with this body
        Optional<QueuedRequest.Stamp> stamp = body == null ? Optional.empty() : signer.verify(message, body);
        if (stamp.isEmpty() && message.propertyExists(QueuedRequest.ID)) {
            LOG.info("JMS message {} carries {} without Mailgate's signature (sent by another program, or a dead "
                    + "letter sent back): it is a new request, the property is ignored", jmsId, QueuedRequest.ID);
        }
        Optional<Journal.Entry> queuedByMailgate = stamp.flatMap(s -> queuedByMailgate(s.id()));
        // a redelivered message must keep its id: idempotency and the journal recognise it by that
        String id = queuedByMailgate.map(Journal.Entry::id).orElseGet(() -> jmsId == null
                ? UUID.randomUUID().toString()
                : UUID.nameUUIDFromBytes(("jms:" + jmsId).getBytes(StandardCharsets.UTF_8)).toString());
        String channel = queuedByMailgate.map(Journal.Entry::channel).orElse("jms");
        DeliveryExchange.begin(exchange, id, channel, queuedByMailgate.map(Journal.Entry::source)
                .orElse("jms:" + queue + " " + jmsId), "mailgate-jms");
        DeliveryExchange.principal(exchange, queuedByMailgate.isPresent() ? queuedByMailgate.get().principal()
                : principal(message));
        if (queuedByMailgate.isPresent() && channel.equals("outbox") && stamp.get().file() != null) {
            exchange.setProperty(WAITING_FILE, Path.of(stamp.get().file()));
        }
        if (queuedByMailgate.isPresent()) {
            Journal.Entry entry = queuedByMailgate.get();
            Long countingSince = stamp.get().countingSince();
            DeliveryExchange.resume(exchange, entry.attempts(), countingSince != null
                    ? Instant.ofEpochMilli(countingSince) : entry.createdAt());
            if (stamp.get().pacedSlot() != null) {
                DeliveryExchange.pacedSlot(exchange, Instant.ofEpochMilli(stamp.get().pacedSlot()));
            }
        }
        exchange.setProperty(QUEUE, queue);
        exchange.getIn().removeHeaders("*");
        if (unreadable != null) {
            throw unreadable;
        }
        if (body.length > maxRequestBytes) {
            // a text whose UTF-8 is longer than its characters, or a message from an external broker: dead-lettered
            // with the reason, the body not copied
            throw new InvalidRequestException("(message)", OversizedRequests.tooLarge(body.length, maxRequestBytes));
        }
        exchange.setProperty(BODY, body);
        // with its body, the request can be put back on the queue for a later attempt
        DeliveryExchange.canWait(exchange, true);
        byte[] json = body;
        // another program's request (a retry of one too) may not name the files of the requests Mailgate queued
        // itself: their delivery ids, and so their folders, can be learnt or computed. A dead letter of Mailgate's own
        // sent back by the operator may (it carries Mailgate's signature of its body)
        boolean own = queuedByMailgate.isPresent() && !channel.equals("jms") || signer.isReplay(message, body);
        exchange.setProperty(OWN_FILES, own);
        AttachmentRoot root = own ? attachments : clientAttachments;
        MailRequest request = validator.forChannel(channel).readAndValidate(
                () -> MailRequestReader.fromJson(new ByteArrayInputStream(json), root,
                        validator.limits().maxMessageBytes()));
        if (queuedByMailgate.isPresent()) {
            if (queuedByMailgate.get().state() == Journal.State.SENT) {
                LOG.info("Not sending {} [{}] again: the journal has it as sent", DeliveryExchange.source(exchange), id);
                finishSentFile(exchange, queuedByMailgate.get());
                exchange.setRouteStop(true);
                return;
            }
            if (queuedByMailgate.get().state() == Journal.State.FAILED) {
                // a copy left on the queue by a crash: its request has its outcome
                LOG.info("Not sending {} [{}] again: the journal has it as failed", DeliveryExchange.source(exchange),
                        id);
                exchange.setRouteStop(true);
                return;
            }
        } else {
            Optional<String> earlier = Admission.repeatOf(journal, exchange, request, false);
            if (earlier.isPresent()) {
                LOG.info("Not sending JMS message {} again: it repeats delivery {}", jmsId, earlier.get());
                exchange.setRouteStop(true);
                return;
            }
        }
        exchange.getIn().setBody(request);
    }

    /**
     * A crash after the journal recorded {@code SENT} but before the outbox file reached {@code .sent/} leaves the
     * file waiting: this copy of the request, coming back from the queue, finishes it with a receipt from the
     * journal.
     */
    private void finishSentFile(Exchange exchange, Journal.Entry entry) {
        Path waiting = exchange.getProperty(WAITING_FILE, Path.class);
        if (waiting != null && Files.exists(waiting)) {
            sent(exchange, new Receipt(entry.id(), entry.messageId(), entry.sender(),
                    entry.recipients() == null ? 0 : entry.recipients(), entry.serverReply(), entry.updatedAt(), null,
                    entry.attempts(), false));
        }
    }

    /**
     * The HTTP API and the outbox mark what they queue with the delivery id they recorded, and so does a scheduled
     * retry, all signed ({@link QueuedRequest}). A signed id counts only when the journal knows it as a request that got
     * past {@code received}: a journal that lost it (restored from a backup) makes the message a new request rather
     * than one with a made-up history.
     */
    private Optional<Journal.Entry> queuedByMailgate(String id) {
        if (id == null || !UUID_TEXT.matcher(id).matches()) {
            return Optional.empty();
        }
        try {
            // queued by the HTTP API or the outbox, or a scheduled retry of any request
            return journal.find(id).filter(e -> e.state() != Journal.State.RECEIVED);
        } catch (RuntimeException e) {
            LOG.warn("The journal could not confirm delivery id {} ({}); treating the message as a new request", id,
                    e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * Who sent a message from another program: {@code jms:<broker user>} as the embedded broker stamped it
     * ({@code JMSXUserID}, i.e. {@code _AMQ_VALIDATED_USER}, which the broker overwrites on every message), else
     * {@code jms}. All clients share the one client user unless an external broker gives them users of their own.
     */
    private String principal(Message message) throws JMSException {
        String user = brokerNamesSender ? message.getStringProperty("JMSXUserID") : null;
        return user == null || user.isBlank() ? "jms" : "jms:" + user;
    }

    private static byte[] body(Message message) throws JMSException {
        if (message instanceof TextMessage text) {
            String json = text.getText();
            return json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
        }
        if (message instanceof BytesMessage bytes) {
            byte[] data = new byte[(int) bytes.getBodyLength()];
            bytes.readBytes(data);
            return data;
        }
        throw new InvalidRequestException("(message)", "is a " + message.getClass().getSimpleName()
                + "; send the MailRequest JSON as a TextMessage (or UTF-8 in a BytesMessage)");
    }

    /**
     * The server took the mail ({@code record-sent} put the receipt on the exchange): an outbox request's file moves to
     * {@code .sent/} with its receipt, and the request's own copies of its files are removed. Whatever goes wrong here
     * is logged, not reported as a failed send: the server has the mail.
     */
    public void sent(Exchange exchange) {
        Receipt receipt = DeliveryExchange.receipt(exchange);
        try {
            sent(exchange, receipt);
        } catch (RuntimeException e) {
            LOG.error("{} [{}] was sent, but recording its receipt failed", DeliveryExchange.source(exchange),
                    receipt.id(), e);
        }
    }

    private void sent(Exchange exchange, Receipt receipt) {
        Path waiting = exchange.getProperty(WAITING_FILE, Path.class);
        if (waiting != null) {
            outboxFiles.sent(waiting, receipt);
        }
        if (!"jms".equals(exchange.getProperty(DeliveryExchange.CHANNEL))) {
            uploads.delete(receipt.id());
        }
    }

    /**
     * The request as its next attempt: the body it came with and Mailgate's signed properties, to be delivered at the
     * decided time ({@code _AMQ_SCHED_DELIVERY}: Artemis keeps scheduled messages in its journal, so the retry
     * survives a restart). The next step sends it to {@link #QUEUE} in the transaction that consumed this message.
     */
    public void retryCopy(Exchange exchange) {
        byte[] body = exchange.getProperty(BODY, byte[].class);
        Path waiting = exchange.getProperty(WAITING_FILE, Path.class);
        Instant slot = DeliveryExchange.pacedSlot(exchange);
        String text = new String(body, StandardCharsets.UTF_8);
        org.apache.camel.Message out = exchange.getMessage();
        out.removeHeaders("*");
        signer.properties(new QueuedRequest.Stamp(DeliveryExchange.id(exchange),
                waiting == null ? null : waiting.toString(), slot == null ? null : slot.toEpochMilli(),
                DeliveryExchange.firstSeen(exchange).toEpochMilli()), text).forEach(out::setHeader);
        out.setHeader(SCHEDULED_DELIVERY, DeliveryExchange.nextAttempt(exchange).toEpochMilli());
        out.setBody(text);
    }

    /**
     * The request failed for good. An outbox request's dead letter is its file in {@code .failed/} with the error
     * file next to it; any other becomes a dead letter, with why it failed and what to do in its properties, which the
     * next step sends to the dead-letter queue ({@link #DEAD_LETTER} says whether there is one). If that send fails
     * the consumed message is rolled back and redelivered, never acknowledged without a trace.
     */
    public void deadLetter(Exchange exchange) {
        Failure failure = DeliveryExchange.failure(exchange);
        Path waiting = exchange.getProperty(WAITING_FILE, Path.class);
        if (waiting != null) {
            outboxFiles.failed(waiting, DeliveryExchange.id(exchange), DeliveryExchange.attempts(exchange), failure);
            uploads.delete(DeliveryExchange.id(exchange));
            exchange.setProperty(DEAD_LETTER, false);
            return;
        }
        byte[] body = exchange.getProperty(BODY, byte[].class);
        org.apache.camel.Message out = exchange.getMessage();
        out.removeHeaders("*");
        out.setHeader(QueuedRequest.ID, DeliveryExchange.id(exchange));
        out.setHeader("mailgateCategory", failure.category().label());
        out.setHeader("mailgateReason", failure.reason());
        out.setHeader("mailgateFix", failure.advice());
        out.setHeader("mailgateAttempts", DeliveryExchange.attempts(exchange));
        out.setHeader("mailgateFailedAt", Instant.now().toString());
        out.setHeader("mailgateSource", DeliveryExchange.source(exchange));
        if (failure.serverReply() != null) {
            out.setHeader("mailgateServerReply", failure.serverReply());
        }
        if (body != null && Boolean.TRUE.equals(exchange.getProperty(OWN_FILES))) {
            // an HTTP request's files stay in its folder for a replay: the operator may send this letter back (again)
            out.setHeader(QueuedRequest.REPLAY, signer.replay(new String(body, StandardCharsets.UTF_8)));
        }
        if (!failure.problems().isEmpty()) {
            out.setHeader("mailgateErrors", String.join("; ", failure.problems().stream().map(Object::toString)
                    .toList()));
        }
        out.setBody(body == null ? "" : new String(body, StandardCharsets.UTF_8));
        exchange.setProperty(DEAD_LETTER, true);
    }

    /** After the dead letter reached the dead-letter queue. */
    public void deadLettered(Exchange exchange) {
        LOG.info("Dead-lettered {} [{}] to {}", DeliveryExchange.source(exchange), DeliveryExchange.id(exchange),
                exchange.getProperty(Exchange.TO_ENDPOINT, String.class));
    }
}
