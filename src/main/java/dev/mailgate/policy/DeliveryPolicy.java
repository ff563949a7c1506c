package dev.mailgate.policy;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;

import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.config.Settings;
import dev.mailgate.outcome.DeliveryExchange;
import dev.mailgate.outcome.DeliveryLog;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;
import dev.mailgate.transport.MailboxPacing;

/**
 * The decision step of the error policy every channel route opts into with {@code routeConfigurationId:
 * mailgate-delivery} ({@code mailgate/mailgate-delivery.yaml}). A failure is classified once
 * ({@link FailureClassifier}); then
 * <ul>
 * <li>a transient one is tried again later with exponential backoff, by the channel route's {@code -later} route:
 * for queued requests that is a scheduled copy on the durable queue, so a request waiting for its next attempt is
 * never only in memory;</li>
 * <li>a quota one is deferred the same way, for {@code mailgate.delivery.quota-delay}, and never given up on;</li>
 * <li>everything else, and transient failures past {@code mailgate.delivery.give-up-after} or
 * {@code max-attempts}, is reported to the channel as failed at once.</li>
 * </ul>
 */
public final class DeliveryPolicy {

    public static final String ID = "mailgate-delivery";
    /** The bean the route configuration calls. */
    public static final String BEAN = "mailgateDeliveryPolicy";

    private static final Logger LOG = LoggerFactory.getLogger(DeliveryPolicy.class);

    private final Settings.Delivery delivery;
    private final FailureClassifier classifier;
    private final Journal journal;
    private final MailboxPacing mailboxes;
    private final DeliveryLog log;
    private final Clock clock;
    private final String clientId;

    /** @param clientId the app's client id, filled into the advice the failures give ({@code <client id>}) */
    public DeliveryPolicy(Settings.Delivery delivery, FailureClassifier classifier, Journal journal,
            MailboxPacing mailboxes, DeliveryLog log, Clock clock, String clientId) {
        this.clientId = clientId;
        this.delivery = delivery;
        this.classifier = classifier;
        this.journal = journal;
        this.mailboxes = mailboxes;
        this.log = log;
        this.clock = clock;
    }

    /**
     * Decides what happens to a request whose attempt failed, records it in the journal and the delivery log, and
     * leaves the decision on the exchange ({@link DeliveryExchange#OUTCOME}) for the channel's outcome route.
     */
    public void decide(Exchange exchange) {
        if (stopping(exchange)) {
            pending(exchange);
            return;
        }
        Journal.Ref ref = DeliveryExchange.ref(exchange);
        if (caught(exchange) instanceof MailboxPacing.NotYet notYet) {
            paced(exchange, ref, notYet);
            return;
        }
        int attempts = DeliveryExchange.attempts(exchange);
        Instant now = clock.instant();
        String mailbox = DeliveryExchange.mailbox(exchange);
        Failure failure = classifier.classify(caught(exchange)).filled(mailbox, DeliveryExchange.sendAs(exchange),
                clientId);
        if (failure.category().holdsMailbox() && mailbox != null) {
            Instant probe = now.plus(delivery.authProbeInterval());
            DeliveryExchange.waitedUntil(exchange, now);
            if (DeliveryExchange.canWait(exchange)) {
                DeliveryExchange.later(exchange, probe);
                hold(mailbox, failure);
                Journal.quietly(journal, ref, j -> j.retrying(ref, attempts, failure, probe));
                log.retrying(ref, mailbox, attempts, failure, probe, DeliveryExchange.attemptDuration(exchange));
                return;
            }
        }
        Instant nextAttempt = failure.category() == Failure.Category.QUOTA ? now.plus(delivery.quotaDelay())
                : now.plus(backoff(attempts));
        boolean keepTrying = failure.category() == Failure.Category.QUOTA
                || failure.retryable() && attempts < delivery.maxAttempts()
                        && !nextAttempt.isAfter(DeliveryExchange.firstSeen(exchange).plus(delivery.giveUpAfter()));
        if (keepTrying && DeliveryExchange.canWait(exchange)) {
            DeliveryExchange.later(exchange, nextAttempt);
            Journal.quietly(journal, ref, j -> j.retrying(ref, attempts, failure, nextAttempt));
            log.retrying(ref, mailbox, attempts, failure, nextAttempt, DeliveryExchange.attemptDuration(exchange));
            return;
        }
        Journal.quietly(journal, ref, j -> j.failed(ref, attempts, failure));
        log.failed(ref, mailbox, DeliveryExchange.attemptsMade(exchange), failure,
                DeliveryExchange.attemptDuration(exchange));
        DeliveryExchange.failed(exchange, failure);
    }

    /**
     * The mailbox may not send now: the request waits on the queue until its due time, keeping its place in its
     * mailbox's line; it is neither an attempt nor a failure. Reaching the 24-hour recipient limit is recorded as a
     * deferral.
     */
    private void paced(Exchange exchange, Journal.Ref ref, MailboxPacing.NotYet notYet) {
        DeliveryExchange.pacedSlot(exchange, notYet.slot());
        if (notYet.kind() == MailboxPacing.NotYet.Kind.HELD) {
            DeliveryExchange.waitedUntil(exchange, clock.instant());
        }
        if (!DeliveryExchange.canWait(exchange)) {
            throw new IllegalStateException("channel of " + ref.source() + " cannot wait for its mailbox");
        }
        DeliveryExchange.later(exchange, notYet.at());
        log.waited(DeliveryExchange.mailbox(exchange), notYet.kind().name().toLowerCase(java.util.Locale.ROOT));
        switch (notYet.kind()) {
            case QUOTA -> {
                Failure deferral = new Failure(Failure.Category.QUOTA, notYet.getMessage(), "nothing to do: "
                        + "Mailgate sends it when the 24-hour window allows");
                Journal.quietly(journal, ref, j -> j.retrying(ref, DeliveryExchange.attemptsMade(exchange),
                        deferral, notYet.at()));
                LOG.info("{} [{}] deferred to {}: {}", ref.source(), ref.id(), notYet.at(), notYet.getMessage());
            }
            case HELD -> {
                // recorded once per request, not at every look while the mailbox stays held
                Failure held = new Failure(notYet.cause().category(), notYet.getMessage(), notYet.cause().advice(),
                        notYet.cause().serverReply(), List.of());
                Journal.quietly(journal, ref, j -> {
                    if (j.find(ref.id()).map(e -> e.state() != Journal.State.RETRYING
                            || !held.category().label().equals(e.failureCategory())).orElse(true)) {
                        j.retrying(ref, DeliveryExchange.attemptsMade(exchange), held, notYet.at());
                    }
                });
                LOG.debug("{} [{}] waits: {}", ref.source(), ref.id(), notYet.getMessage());
            }
            case BUSY -> LOG.debug("{} [{}] back at {}: {}", ref.source(), ref.id(), notYet.at(), notYet.getMessage());
            case PACED -> {
                // waiting on the queue; past RECEIVED, so that the channel knows the copy it gets back as this
                Journal.quietly(journal, ref, j -> j.queued(ref));
                LOG.debug("{} [{}] due at {}: {}", ref.source(), ref.id(), notYet.at(), notYet.getMessage());
            }
        }
    }

    /**
     * An authentication failure that survived the fresh-token retry, or a sending mailbox that is full, is about the
     * tenant, not this message: sending as the mailbox stops, its requests stay pending, and
     * {@link dev.mailgate.policy.MailboxProbe} resumes it.
     */
    private void hold(String mailbox, Failure failure) {
        if (mailboxes.hold(mailbox, failure)) {
            LOG.error("Sending as {} is HELD: {}{}. Fix: {}. Its requests stay pending; Mailgate {} every {} and "
                    + "resumes by itself.", mailbox, failure.reason(),
                    failure.serverReply() == null ? "" : " (server said: " + failure.serverReply() + ")",
                    failure.advice(), failure.category().liftedByTrial()
                            ? "lets one of them through as a trial" : "tries to authenticate",
                    delivery.authProbeInterval());
        }
    }

    /** 30 s, 1 min, 2 min, ... up to the maximum (with the defaults). */
    Duration backoff(int attempts) {
        double millis = delivery.initialDelay().toMillis() * Math.pow(delivery.backoffMultiplier(),
                Math.max(0, attempts - 1));
        return Duration.ofMillis((long) Math.min(millis, delivery.maxDelay().toMillis()));
    }

    /**
     * Mailgate is stopping in the middle of this request: it is neither sent nor failed. Rolling the exchange back
     * leaves it pending where it came from: the JMS message returns to its queue, the outbox file stays in the
     * outbox, and both are taken up again at the next start.
     */
    private void pending(Exchange exchange) {
        LOG.info("{} [{}] stays pending: Mailgate is stopping", DeliveryExchange.source(exchange),
                DeliveryExchange.id(exchange));
        DeliveryExchange.pending(exchange);
    }

    private static boolean stopping(Exchange exchange) {
        if (exchange.getContext().isStopping()) {
            return true;
        }
        for (Throwable e = caught(exchange); e != null; e = e.getCause()) {
            if (e instanceof RejectedExecutionException) {
                return true;
            }
        }
        return false;
    }

    private static Throwable caught(Exchange exchange) {
        Throwable e = exchange.getException();
        return e != null ? e : exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
    }
}
