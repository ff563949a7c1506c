package dev.mailgate.outcome;

import org.apache.camel.Exchange;
import org.apache.camel.builder.RouteConfigurationBuilder;
import org.apache.camel.model.OnExceptionDefinition;
import org.apache.camel.model.RouteConfigurationDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.config.Settings;

/**
 * The error policy every channel route opts into with {@code routeConfigurationId: mailgate-delivery}:
 * failures the {@link FailureClassifier} calls retryable are tried again with exponential backoff; when
 * they run out, and for every other failure, the channel's {@link OutcomeHandler} is told at once.
 */
public final class DeliveryPolicy extends RouteConfigurationBuilder {

    public static final String ID = "mailgate-delivery";

    private static final Logger LOG = LoggerFactory.getLogger(DeliveryPolicy.class);

    private final Settings.Delivery delivery;
    private final FailureClassifier classifier;
    private final Journal journal;

    public DeliveryPolicy(Settings.Delivery delivery, FailureClassifier classifier, Journal journal) {
        this.delivery = delivery;
        this.classifier = classifier;
        this.journal = journal;
    }

    @Override
    public void configuration() {
        RouteConfigurationDefinition policy = routeConfiguration(ID);
        OnExceptionDefinition retry = policy.onException(Exception.class)
                .onWhen(exchange -> classifier.classify(caught(exchange)).retryable())
                .maximumRedeliveries(delivery.maxAttempts() - 1)
                .redeliveryDelay(delivery.initialDelay().toMillis())
                .useExponentialBackOff()
                .backOffMultiplier(delivery.backoffMultiplier())
                .maximumRedeliveryDelay(delivery.maxDelay().toMillis())
                .logRetryAttempted(false)
                .logExhausted(false);
        // a retry is not waited for while Mailgate stops: the request goes back to pending instead (see failed)
        retry.getRedeliveryPolicyType().allowRedeliveryWhileStopping(false);
        retry.onRedelivery(this::logRetry)
                .handled(true)
                .process(this::failed)
                .end();
        policy.onException(Exception.class)
                .logExhausted(false)
                .handled(true)
                .process(this::failed)
                .end();
    }

    private void logRetry(Exchange exchange) {
        Failure failure = classifier.classify(caught(exchange));
        Journal.Ref ref = DeliveryExchange.ref(exchange);
        Journal.quietly(journal, ref, j -> j.retrying(ref, DeliveryExchange.attempts(exchange), failure));
        LOG.warn("{} [{}] attempt {} of {} failed ({}: {}{}); trying again", DeliveryExchange.source(exchange),
                DeliveryExchange.id(exchange), DeliveryExchange.attempts(exchange), delivery.maxAttempts(),
                failure.category().label(), failure.reason(),
                failure.serverReply() == null ? "" : ", server said: " + failure.serverReply());
    }

    private void failed(Exchange exchange) {
        if (stopping(exchange)) {
            pending(exchange);
            return;
        }
        Failure failure = classifier.classify(caught(exchange));
        Journal.Ref ref = DeliveryExchange.ref(exchange);
        Journal.quietly(journal, ref, j -> j.failed(ref, DeliveryExchange.attempts(exchange), failure));
        LOG.warn("Not sent: {} [{}] after {} attempt(s): {}: {}{}. Fix: {}", DeliveryExchange.source(exchange),
                DeliveryExchange.id(exchange), DeliveryExchange.attempts(exchange), failure.category().label(),
                failure.reason(), failure.serverReply() == null ? "" : " (server said: " + failure.serverReply() + ")",
                failure.advice());
        DeliveryExchange.handler(exchange).failed(exchange, failure);
    }

    /**
     * Mailgate is stopping in the middle of this request's retries: it is neither sent nor failed. Rolling the
     * exchange back leaves it pending where it came from: the JMS message returns to its queue, the outbox file
     * stays in the outbox, and both are taken up again at the next start.
     */
    private void pending(Exchange exchange) {
        LOG.info("{} [{}] stays pending: Mailgate is stopping before its next attempt", DeliveryExchange.source(exchange),
                DeliveryExchange.id(exchange));
        Journal.Ref ref = DeliveryExchange.ref(exchange);
        Journal.quietly(journal, ref, j -> j.retrying(ref, DeliveryExchange.attempts(exchange), new Failure(
                Failure.Category.TRANSIENT, "Mailgate stopped before the next attempt", "it is tried again when "
                        + "Mailgate starts")));
        exchange.setRollbackOnly(true);
    }

    private static boolean stopping(Exchange exchange) {
        if (exchange.getContext().isStopping()) {
            return true;
        }
        for (Throwable e = caught(exchange); e != null; e = e.getCause()) {
            if (e instanceof java.util.concurrent.RejectedExecutionException) {
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
