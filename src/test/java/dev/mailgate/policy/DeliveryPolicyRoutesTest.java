package dev.mailgate.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ConnectException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.camel.Exchange;
import org.apache.camel.RoutesBuilder;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.component.mock.MockEndpoint;
import org.apache.camel.spi.Registry;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.apache.camel.test.junit5.CamelTestSupport;
import org.junit.jupiter.api.Test;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import dev.mailgate.config.Settings;
import dev.mailgate.outcome.DeliveryExchange;
import dev.mailgate.outcome.DeliveryLog;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;
import dev.mailgate.outcome.Receipt;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.MailRequest;
import dev.mailgate.transport.MailboxPacing;

/**
 * The error policy as Camel runs it, without a broker, a database or an HTTP server: the jar's
 * {@code mailgate/mailgate-delivery.yaml} route configuration with the real {@link DeliveryPolicy}, and a channel
 * route whose outcome routes ({@code direct:test-later}, {@code direct:test-failed}) end in mock endpoints. Each case
 * throws what a delivery attempt can throw and checks where the request goes, when, and what the journal recorded.
 */
class DeliveryPolicyRoutesTest extends CamelTestSupport {

    private static final Settings DEFAULTS = Settings.read(key -> Optional.empty());

    private final RecordingJournal journal = new RecordingJournal();

    @Override
    protected void bindToRegistry(Registry registry) {
        registry.bind(DeliveryPolicy.BEAN, new DeliveryPolicy(DEFAULTS.delivery(), new FailureClassifier(), journal,
                new MailboxPacing(DEFAULTS.limits(), DEFAULTS.delivery(), journal, Clock.systemUTC()),
                new DeliveryLog(new SimpleMeterRegistry()), Clock.systemUTC(), "client-id"));
    }

    @Override
    protected RoutesBuilder[] createRouteBuilders() throws Exception {
        List<RoutesBuilder> builders = new java.util.ArrayList<>(PluginHelper.getRoutesLoader(context())
                .findRoutesBuilders(ResourceHelper.resolveResource(context(), "classpath:mailgate/mailgate-delivery.yaml")));
        builders.add(new RouteBuilder() {
            @Override
            public void configure() {
                // a channel as Mailgate's templates make one: it names its outcome routes, then an attempt fails
                from("direct:channel").routeConfigurationId(DeliveryPolicy.ID)
                        .process(exchange -> {
                            DeliveryExchange.begin(exchange, "id-" + exchange.getExchangeId(), "jms", "test", "test");
                            DeliveryExchange.canWait(exchange, exchange.getIn().getHeader("canWait", true,
                                    Boolean.class));
                            throw exchange.getIn().getBody(Exception.class);
                        });
                from("direct:test-later").to("mock:later");
                from("direct:test-failed").to("mock:failed");
            }
        });
        return builders.toArray(RoutesBuilder[]::new);
    }

    @Test
    void a_transient_failure_goes_to_the_channels_later_route_with_the_first_backoff() throws Exception {
        MockEndpoint later = getMockEndpoint("mock:later");
        later.expectedMessageCount(1);
        getMockEndpoint("mock:failed").expectedMessageCount(0);
        Instant before = Instant.now();

        template.sendBody("direct:channel", new ConnectException("Connection refused"));

        MockEndpoint.assertIsSatisfied(context);
        Exchange retried = later.getExchanges().get(0);
        assertThat(retried.getProperty(DeliveryExchange.OUTCOME)).isEqualTo("later");
        // the first retry after mailgate.delivery.initial-delay (30 s)
        assertThat(DeliveryExchange.nextAttempt(retried)).isBetween(before.plus(Duration.ofSeconds(30)),
                Instant.now().plus(Duration.ofSeconds(30)));
        assertThat(journal.calls).singleElement().asString().startsWith("retrying transient");
    }

    @Test
    void an_invalid_request_goes_to_the_failed_route_with_its_fields_and_is_journaled_as_failed() throws Exception {
        MockEndpoint failed = getMockEndpoint("mock:failed");
        failed.expectedMessageCount(1);
        getMockEndpoint("mock:later").expectedMessageCount(0);

        template.sendBody("direct:channel", new InvalidRequestException("to", "is missing; add a recipient"));

        MockEndpoint.assertIsSatisfied(context);
        Failure failure = DeliveryExchange.failure(failed.getExchanges().get(0));
        assertThat(failure.category()).isEqualTo(Failure.Category.INVALID_REQUEST);
        assertThat(failure.problems()).singleElement().asString().contains("to").contains("add a recipient");
        assertThat(journal.calls).singleElement().asString().startsWith("failed invalid-request");
    }

    @Test
    void a_transient_failure_of_a_request_its_channel_cannot_put_back_fails_instead_of_being_lost() throws Exception {
        getMockEndpoint("mock:failed").expectedMessageCount(1);
        getMockEndpoint("mock:later").expectedMessageCount(0);

        template.sendBodyAndHeaders("direct:channel", new ConnectException("Connection refused"),
                Map.of("canWait", false));

        MockEndpoint.assertIsSatisfied(context);
        assertThat(journal.calls).singleElement().asString().startsWith("failed transient");
    }

    /** Records what the policy writes to the journal; it reads nothing from it in these cases. */
    private static final class RecordingJournal implements Journal {
        final List<String> calls = new CopyOnWriteArrayList<>();

        @Override
        public Optional<String> admit(Ref ref, MailRequest request) {
            return Optional.empty();
        }

        @Override
        public Optional<String> admitForQueue(Ref ref, MailRequest request) {
            return Optional.empty();
        }

        @Override
        public void queued(Ref ref) {
            calls.add("queued");
        }

        @Override
        public void notAccepted(Ref ref, Failure failure) {
            calls.add("notAccepted " + failure.category().label());
        }

        @Override
        public void sending(Ref ref, int attempt) {
            calls.add("sending");
        }

        @Override
        public void sent(Ref ref, Receipt receipt) {
            calls.add("sent");
        }

        @Override
        public void retrying(Ref ref, int attempt, Failure failure, Instant next) {
            calls.add("retrying " + failure.category().label());
        }

        @Override
        public void failed(Ref ref, int attempts, Failure failure) {
            calls.add("failed " + failure.category().label());
        }

        @Override
        public Optional<Entry> find(String id) {
            return Optional.empty();
        }

        @Override
        public long recipientsSince(String sender, Instant since) {
            return 0;
        }

        @Override
        public List<String> waiting(String sender) {
            return List.of();
        }
    }
}
