package dev.mailgate.transport;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.mail.internet.InternetAddress;

import org.apache.camel.Exchange;
import org.apache.camel.support.SynchronizationAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.compose.MimeComposer;
import dev.mailgate.compose.OutgoingMessage;
import dev.mailgate.outcome.DeliveryExchange;
import dev.mailgate.outcome.DeliveryLog;
import dev.mailgate.outcome.Journal;
import dev.mailgate.outcome.Receipt;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestValidator;

/**
 * The steps of the route every queued request takes to Exchange ({@code mailgate-deliver}, in
 * {@code mailgate/mailgate-deliver.yaml}): validate, one copy at a time, the mailbox's turn, the attempt recorded,
 * compose, the {@code smtp} endpoint, the receipt. Failures propagate to the calling channel route, whose
 * {@code mailgate-delivery} route configuration retries or reports them. A step that may not go on yet throws
 * {@link MailboxPacing.NotYet}: the request goes back to the queue before anything counts as an attempt.
 */
public final class DeliverySteps {

    /** The bean the route's steps call. */
    public static final String BEAN = "mailgateDelivery";
    private static final String REQUEST = "mailgate.request";
    private static final String PERMIT = "mailgate.permit";
    /** The request as validated in this attempt. */
    private static final String VALID = "mailgate.validRequest";

    private static final Logger LOG = LoggerFactory.getLogger(DeliverySteps.class);
    private static final Duration BUSY_RETRY = Duration.ofSeconds(1);

    private final MailRequestValidator validator;
    private final MimeComposer composer;
    private final Journal journal;
    private final MailboxPacing pacing;
    private final DeliveryLog log;
    private final String server;
    private final boolean sandbox;
    /** Delivery ids being sent now. */
    private final Set<String> sending = ConcurrentHashMap.newKeySet();

    public DeliverySteps(MailRequestValidator validator, MimeComposer composer, Journal journal, MailboxPacing pacing,
            DeliveryLog log, String server, boolean sandbox) {
        this.validator = validator;
        this.composer = composer;
        this.journal = journal;
        this.pacing = pacing;
        this.log = log;
        this.server = server;
        this.sandbox = sandbox;
    }

    /** The request, validated again with its channel's rules (the queue is not trusted to hold valid requests). */
    public void validate(Exchange exchange) throws Exception {
        // kept as a property: on a retry the body is the message built by the failed attempt
        MailRequest received = exchange.getProperty(REQUEST, MailRequest.class);
        if (received == null) {
            received = exchange.getIn().getMandatoryBody(MailRequest.class);
            exchange.setProperty(REQUEST, received);
        }
        exchange.setProperty(VALID, channel(exchange).validate(received));
    }

    private MailRequestValidator channel(Exchange exchange) {
        return validator.forChannel(exchange.getProperty(DeliveryExchange.CHANNEL, "jms", String.class));
    }

    /**
     * Two copies of one request on the queue (a crash during an outbox hand-off): one is sent at a time, and the
     * other, back a moment later, finds it sent.
     */
    public void oneCopyAtATime(Exchange exchange) {
        String id = DeliveryExchange.id(exchange);
        if (!sending.add(id)) {
            throw new MailboxPacing.NotYet(Instant.now().plus(BUSY_RETRY), MailboxPacing.NotYet.Kind.BUSY, null,
                    "another copy of " + id + " is being sent");
        }
        onDone(exchange, () -> sending.remove(id));
    }

    /**
     * The mailbox that authenticates (the sender itself, or one with Send As on it: authenticate-as) may send now:
     * its pace, its 24-hour recipients, its connections and its hold allow it. The permit holds one of the mailbox's
     * connections until the exchange completes.
     */
    public void mailboxTurn(Exchange exchange) throws Exception {
        MailRequest request = exchange.getProperty(VALID, MailRequest.class);
        String from = new InternetAddress(request.from()).getAddress();
        String mailbox = channel(exchange).mailboxFor(from);
        DeliveryExchange.mailbox(exchange, mailbox);
        if (!mailbox.equalsIgnoreCase(from)) {
            DeliveryExchange.sendAs(exchange, from);
        }
        MailboxPacing.Permit permit = pacing.acquire(mailbox, request.recipientCount(),
                DeliveryExchange.pacedSlot(exchange));
        DeliveryExchange.pacedSlot(exchange, null);
        onDone(exchange, permit::close);
        exchange.setProperty(PERMIT, permit);
    }

    /** From here on it is an attempt: counted, and the journal says {@code sending}. */
    public void recordAttempt(Exchange exchange) {
        DeliveryExchange.attempt(exchange);
        Journal.Ref ref = DeliveryExchange.ref(exchange);
        Journal.quietly(journal, ref, j -> j.sending(ref, DeliveryExchange.attempts(exchange)));
    }

    /** The MIME message (rendered, with its attachments opened), closed when the exchange completes. */
    public void compose(Exchange exchange) throws Exception {
        MailRequest request = exchange.getProperty(VALID, MailRequest.class);
        OutgoingMessage message = composer.compose(request, DeliveryExchange.id(exchange),
                DeliveryExchange.mailbox(exchange));
        onDone(exchange, () -> {
            try {
                message.close();
            } catch (IOException e) {
                LOG.debug("Closing {} failed", request.rawMessage(), e);
            }
        });
        exchange.getIn().setBody(message);
    }

    private static void onDone(Exchange exchange, Runnable action) {
        exchange.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
            @Override
            public void onDone(Exchange done) {
                action.run();
            }
        });
    }

    public void recordSent(Exchange exchange) throws Exception {
        OutgoingMessage message = exchange.getIn().getMandatoryBody(OutgoingMessage.class);
        Receipt receipt = new Receipt(message.id(), message.getMessageID(), message.mailbox(),
                message.getAllRecipients().length, message.serverReply(), Instant.now(), server,
                DeliveryExchange.attempts(exchange), sandbox);
        log.sent(DeliveryExchange.ref(exchange).channel(), receipt, DeliveryExchange.attemptDuration(exchange));
        Journal.Ref ref = DeliveryExchange.ref(exchange);
        Journal.quietly(journal, ref, j -> j.sent(ref, receipt));
        exchange.getProperty(PERMIT, MailboxPacing.Permit.class).sent();
        // for the channel route's own step after this route (the JMS channel moves an outbox file, removes copies)
        DeliveryExchange.sent(exchange, receipt);
    }
}
