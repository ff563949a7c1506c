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
import org.apache.camel.ProducerTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.channel.QueuedRequest;
import dev.mailgate.channel.Uploads;
import dev.mailgate.channel.outbox.OutboxFiles;
import dev.mailgate.outcome.Admission;
import dev.mailgate.outcome.DeliveryExchange;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;
import dev.mailgate.outcome.OutcomeHandler;
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
public final class JmsChannel implements OutcomeHandler {


    private static final Logger LOG = LoggerFactory.getLogger(JmsChannel.class);
    private static final Pattern UUID_TEXT = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final String BODY = "mailgate.jmsBody";
    private static final String WAITING_FILE = "mailgate.outboxFile";
    private static final String QUEUE = "mailgate.queue";
    /** Artemis's property for a message that becomes deliverable only at the given epoch millisecond. */
    private static final String SCHEDULED_DELIVERY = "_AMQ_SCHED_DELIVERY";
    /** When a paced request is due, i.e. its place in its mailbox's line (epoch milliseconds). */
    private static final String PACED_SLOT = "mailgatePacedSlot";
    /** When the request's clock of giving up started, if not when it arrived (it waited for a held mailbox). */
    private static final String COUNTING_SINCE = "mailgateCountingSince";

    private final MailRequestValidator validator;
    private final Journal journal;
    private final Uploads uploads;
    private final OutboxFiles outboxFiles;
    private final AttachmentRoot attachments;
    private final ProducerTemplate producer;
    private final String deadLetterUri;

    public JmsChannel(MailRequestValidator validator, Journal journal, Uploads uploads, OutboxFiles outboxFiles,
            ProducerTemplate producer, String deadLetterQueue) {
        this.validator = validator;
        this.journal = journal;
        this.uploads = uploads;
        this.outboxFiles = outboxFiles;
        this.attachments = new AttachmentRoot(uploads.root(), "the JMS attachments folder (mailgate.jms.attachments-dir)");
        this.producer = producer;
        this.deadLetterUri = "jms:queue:" + deadLetterQueue;
    }

    /** Reads the consumed message into a {@link MailRequest}, after stripping every inbound header. */
    public void readRequest(Exchange exchange, String queue) throws Exception {
        Message message = exchange.getIn().getMandatoryBody(Message.class);
        String jmsId = message.getJMSMessageID();
        Optional<Journal.Entry> queuedByMailgate = queuedByMailgate(message.getStringProperty(QueuedRequest.ID));
        // a redelivered message must keep its id: idempotency and the journal recognise it by that
        String id = queuedByMailgate.map(Journal.Entry::id).orElseGet(() -> jmsId == null
                ? UUID.randomUUID().toString()
                : UUID.nameUUIDFromBytes(("jms:" + jmsId).getBytes(StandardCharsets.UTF_8)).toString());
        String channel = queuedByMailgate.map(Journal.Entry::channel).orElse("jms");
        DeliveryExchange.begin(exchange, id, channel, queuedByMailgate.map(Journal.Entry::source)
                .orElse("jms:" + queue + " " + jmsId), this);
        if (channel.equals("outbox") && message.getStringProperty(QueuedRequest.FILE) != null) {
            exchange.setProperty(WAITING_FILE, Path.of(message.getStringProperty(QueuedRequest.FILE)));
        }
        if (queuedByMailgate.isPresent()) {
            Journal.Entry entry = queuedByMailgate.get();
            DeliveryExchange.resume(exchange, entry.attempts(), message.propertyExists(COUNTING_SINCE)
                    ? Instant.ofEpochMilli(message.getLongProperty(COUNTING_SINCE)) : entry.createdAt());
        }
        if (queuedByMailgate.isPresent() && message.propertyExists(PACED_SLOT)) {
            DeliveryExchange.pacedSlot(exchange, Instant.ofEpochMilli(message.getLongProperty(PACED_SLOT)));
        }
        exchange.setProperty(QUEUE, queue);
        exchange.getIn().removeHeaders("*");
        byte[] body = body(message);
        exchange.setProperty(BODY, body);
        MailRequest request = validator.forChannel(channel).readAndValidate(
                () -> MailRequestReader.fromJson(new ByteArrayInputStream(body), attachments,
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
     * retry. Only an id the journal knows as a request that got past {@code received} counts: any other process that
     * can reach the broker could set the property, and must not make up an id, skip the idempotency check, or touch
     * another request's files.
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

    @Override
    public void sent(Exchange exchange, Receipt receipt) {
        Path waiting = exchange.getProperty(WAITING_FILE, Path.class);
        if (waiting != null) {
            outboxFiles.sent(waiting, receipt);
        }
        if (!"jms".equals(exchange.getProperty(DeliveryExchange.CHANNEL))) {
            uploads.delete(receipt.id());
        }
    }

    /**
     * Puts the request back on its queue, to be delivered at {@code at} (Artemis keeps scheduled messages in its
     * journal, so the retry survives a restart), in the same transaction that consumes this message.
     */
    @Override
    public boolean later(Exchange exchange, Instant at) {
        byte[] body = exchange.getProperty(BODY, byte[].class);
        if (body == null) {
            return false;
        }
        Map<String, Object> properties = new java.util.LinkedHashMap<>();
        properties.put(QueuedRequest.ID, DeliveryExchange.id(exchange));
        Path waiting = exchange.getProperty(WAITING_FILE, Path.class);
        if (waiting != null) {
            properties.put(QueuedRequest.FILE, waiting.toString());
        }
        properties.put(SCHEDULED_DELIVERY, at.toEpochMilli());
        properties.put(COUNTING_SINCE, DeliveryExchange.firstSeen(exchange).toEpochMilli());
        Instant slot = DeliveryExchange.pacedSlot(exchange);
        if (slot != null) {
            properties.put(PACED_SLOT, slot.toEpochMilli());
        }
        producer.sendBodyAndHeaders("jms:queue:" + exchange.getProperty(QUEUE, String.class),
                new String(body, StandardCharsets.UTF_8), properties);
        return true;
    }

    /**
     * Copies the message to the dead-letter queue with why it failed and what to do. Throws if that fails: the
     * consumed message is then rolled back and redelivered, never acknowledged without a trace.
     */
    @Override
    public void failed(Exchange exchange, Failure failure) {
        Path waiting = exchange.getProperty(WAITING_FILE, Path.class);
        if (waiting != null) {
            // an outbox request: its dead letter is the file in .failed/ with the error file next to it
            outboxFiles.failed(waiting, DeliveryExchange.id(exchange), DeliveryExchange.attempts(exchange), failure);
            uploads.delete(DeliveryExchange.id(exchange));
            return;
        }
        byte[] body = exchange.getProperty(BODY, byte[].class);
        Map<String, Object> properties = new java.util.LinkedHashMap<>();
        properties.put(QueuedRequest.ID, DeliveryExchange.id(exchange));
        properties.put("mailgateCategory", failure.category().label());
        properties.put("mailgateReason", failure.reason());
        properties.put("mailgateFix", failure.advice());
        properties.put("mailgateAttempts", DeliveryExchange.attempts(exchange));
        properties.put("mailgateFailedAt", Instant.now().toString());
        properties.put("mailgateSource", DeliveryExchange.source(exchange));
        if (failure.serverReply() != null) {
            properties.put("mailgateServerReply", failure.serverReply());
        }
        if (!failure.problems().isEmpty()) {
            properties.put("mailgateErrors", String.join("; ", failure.problems().stream().map(Object::toString)
                    .toList()));
        }
        producer.sendBodyAndHeaders(deadLetterUri,
                body == null ? "" : new String(body, StandardCharsets.UTF_8), properties);
        LOG.info("Dead-lettered {} [{}] to {}", DeliveryExchange.source(exchange), DeliveryExchange.id(exchange),
                deadLetterUri);
    }
}
