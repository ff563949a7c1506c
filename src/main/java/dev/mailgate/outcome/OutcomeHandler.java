package dev.mailgate.outcome;

import org.apache.camel.Exchange;

/**
 * What a channel does with a request's final outcome: the outbox moves the file and writes a receipt or
 * an error file; a queue acknowledges or dead-letters. The channel puts its handler on the exchange when the
 * request arrives ({@link DeliveryExchange#begin}); the shared delivery path calls it exactly once.
 */
public interface OutcomeHandler {

    void sent(Exchange exchange, Receipt receipt);

    void failed(Exchange exchange, Failure failure);
}
