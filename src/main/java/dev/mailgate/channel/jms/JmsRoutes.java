package dev.mailgate.channel.jms;

import org.apache.camel.builder.RouteBuilder;

import dev.mailgate.policy.DeliveryPolicy;
import dev.mailgate.transport.DeliveryRoute;

/**
 * The JMS channel as a route template ({@value #TEMPLATE}), instantiated from {@code routes/jms.yaml}: MailRequest
 * JSON from a queue, consumed in a local JMS transaction.
 */
public final class JmsRoutes extends RouteBuilder {

    public static final String TEMPLATE = "mailgate-jms";

    private final JmsChannel channel;
    private final long maxRequestBytes;

    /** @param maxRequestBytes the largest request consumed: larger ones are never received (OversizedRequests) */
    public JmsRoutes(JmsChannel channel, long maxRequestBytes) {
        this.channel = channel;
        this.maxRequestBytes = maxRequestBytes;
    }

    @Override
    public void configure() {
        routeTemplate(TEMPLATE)
                .templateParameter("queue", "mailgate.outbox", "the queue to consume MailRequest JSON from")
                .templateParameter("consumers", "1", "how many messages are worked on at once")
                // mapJmsMessage=false: the body stays the JMS message; an ObjectMessage is never deserialized.
                // disableReplyTo: a JMSReplyTo set by the sender must not turn the exchange into request-reply
                // (the reply would fail after the mail went out, roll back, and send the mail again)
                // selector: a message too large to hold is not received at all (its body would be read into memory
                // on receipt, before Mailgate could look at its size); the embedded broker dead-letters such messages
                .from("jms:queue:{{queue}}?transacted=true&mapJmsMessage=false&disableReplyTo=true"
                        + "&concurrentConsumers={{consumers}}&cacheLevelName=CACHE_CONSUMER"
                        + "&selector=RAW(" + OversizedRequests.selector(maxRequestBytes) + ")")
                .routeConfigurationId(DeliveryPolicy.ID)
                .process(exchange -> channel.readRequest(exchange,
                        exchange.getFromEndpoint().getEndpointUri().replaceFirst("^jms://queue:", "")
                                .replaceFirst("\\?.*", "")))
                .to(DeliveryRoute.URI);
    }
}
