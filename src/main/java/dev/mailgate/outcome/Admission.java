package dev.mailgate.outcome;

import java.util.Optional;

import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.request.MailRequest;

/** Admitting a request read by a channel into the journal, the same way for the outbox and the JMS queue. */
public final class Admission {

    private static final Logger LOG = LoggerFactory.getLogger(Admission.class);

    private Admission() {
    }

    /**
     * Records the request; returns the delivery it repeats (its idempotency key arrived before, or it is this very
     * delivery, already sent) when it must not be sent. If the journal's database is down the request is sent
     * anyway, without the idempotency check: the journal is a record, not a reason to hold mail back. With
     * {@code toQueue} (a channel that hands the request to the queue next) it is recorded as queued in the same step.
     */
    public static Optional<String> repeatOf(Journal journal, Exchange exchange, MailRequest request, boolean toQueue) {
        Journal.Ref ref = DeliveryExchange.ref(exchange);
        try {
            return toQueue ? journal.admitForQueue(ref, request) : journal.admit(ref, request);
        } catch (RuntimeException e) {
            LOG.warn("The delivery journal is not available ({}); sending {} [{}] without the idempotency check",
                    e.getMessage(), ref.source(), ref.id());
            return Optional.empty();
        }
    }
}
