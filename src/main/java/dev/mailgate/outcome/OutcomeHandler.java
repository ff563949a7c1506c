package dev.mailgate.outcome;

import java.time.Instant;

import org.apache.camel.Exchange;

/**
 * What a channel does with a request's final outcome: the outbox moves the file and writes a receipt or
 * an error file; a queue acknowledges or dead-letters. The channel puts its handler on the exchange when the
 * request arrives ({@link DeliveryExchange#begin}); the shared delivery path calls it exactly once.
 */
public interface OutcomeHandler {

    void sent(Exchange exchange, Receipt receipt);

    void failed(Exchange exchange, Failure failure);

    /**
     * Arranges another attempt at {@code at} (a retry, or a paced send), durably; returns false when this channel cannot, and the request is
     * then reported as failed. The default leaves the request where it came from (the exchange is rolled back), for
     * channels that hand requests on to the queue and only fail before that.
     */
    default boolean later(Exchange exchange, Instant at) {
        exchange.setRollbackOnly(true);
        return true;
    }
}
