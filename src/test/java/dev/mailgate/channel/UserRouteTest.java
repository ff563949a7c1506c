package dev.mailgate.channel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.camel.CamelExecutionException;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.outcome.Journal;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * A user's own route, written in YAML next to the channels, composes a pipeline Mailgate does not ship (a folder of
 * log files, a filter, a request built from each matching file) and hands each request to
 * {@code direct:mailgate-submit}: it is validated, journaled under the route's principal, queued durably and sent,
 * and the route gets the delivery id back. Java callers may send a Map of the fields.
 */
class UserRouteTest {

    private static final String ALERTS = """
            - route:
                id: alerts
                from:
                  uri: "file:{{mailgate.outbox.dir}}/../alerts?delete=true&include=.*\\\\.log"
                  steps:
                    - convertBodyTo:
                        type: String
                    - filter:
                        simple: "${body} contains 'CRITICAL'"
                        steps:
                          - setBody:
                              simple: '{"to": "oncall@example.com", "subject": "Alert from ${header.CamelFileName}", "text": "${body}"}'
                          - to: direct:mailgate-submit
                          - log: "alert queued as ${body}"
            """;

    @RegisterExtension
    final MailgateExtension mailgate = MailgateExtension.realTenant()
            .withFolder("mailgate.routes.dir", "routes")
            .prepare(UserRouteTest::routes);

    /** The shipped channel routes, and the user's own beside them. */
    private static void routes(Path dir) {
        try {
            Path routes = Files.createDirectories(dir.resolve("routes"));
            try (Stream<Path> shipped = Files.list(Path.of("routes"))) {
                for (Path file : shipped.toList()) {
                    Files.copy(file, routes.resolve(file.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
            Files.writeString(routes.resolve("alerts.yaml"), ALERTS);
            Files.createDirectories(dir.resolve("alerts"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void a_yaml_route_filters_log_files_and_mails_each_critical_one_through_mailgate_submit() throws Exception {
        Path alerts = mailgate.dir().resolve("alerts");
        Files.writeString(alerts.resolve("db.log"), "CRITICAL disk full on db1");
        Files.writeString(alerts.resolve("web.log"), "INFO all good");

        TestSmtpServer.Received mail = mailgate.smtp().awaitReceived(1).get(0);

        assertThat(mail.recipients()).containsExactly("oncall@example.com");
        assertThat(mail.message().getSubject()).isEqualTo("Alert from db.log");
        assertThat(mail.text()).contains("CRITICAL disk full on db1");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(alerts.resolve("web.log")));
        assertThat(mailgate.smtp().received()).hasSize(1);
        String id = mailgate.logLines().stream().filter(l -> l.contains("alert queued as ")).findFirst()
                .map(l -> l.substring(l.indexOf("alert queued as ") + 16).strip()).orElseThrow();
        Journal.Entry entry = mailgate.gateway().awaitState(id, Journal.State.SENT);
        assertThat(entry.channel()).isEqualTo("route");
        assertThat(entry.principal()).isEqualTo("route:alerts");
    }

    @Test
    void a_map_sent_from_java_is_queued_and_its_idempotency_key_is_the_routes_own() {
        ProducerTemplate producer = mailgate.gateway().context().createProducerTemplate();
        Map<String, Object> request = Map.of("to", "alice@example.com", "subject", "From Java", "text", "Hello",
                "idempotencyKey", "order-42");

        Exchange first = producer.request(SubmitEndpoint.URI, e -> e.getMessage().setBody(request));
        Exchange again = producer.request(SubmitEndpoint.URI, e -> e.getMessage().setBody(request));

        String id = first.getMessage().getBody(String.class);
        assertThat(first.getMessage().getHeader(SubmitEndpoint.ID_HEADER)).isEqualTo(id);
        assertThat(first.getMessage().getHeader(SubmitEndpoint.REPEAT_HEADER)).isEqualTo(false);
        assertThat(again.getMessage().getBody(String.class)).isEqualTo(id);
        assertThat(again.getMessage().getHeader(SubmitEndpoint.REPEAT_HEADER)).isEqualTo(true);
        mailgate.gateway().awaitState(id, Journal.State.SENT);
        assertThat(mailgate.smtp().received()).singleElement()
                .satisfies(m -> assertThat(m.message().getSubject()).isEqualTo("From Java"));
    }

    @Test
    void an_invalid_request_fails_the_calling_route_naming_the_field_and_nothing_is_queued() {
        ProducerTemplate producer = mailgate.gateway().context().createProducerTemplate();

        assertThatThrownBy(() -> producer.requestBody(SubmitEndpoint.URI, "{\"subject\": \"no recipient\"}"))
                .isInstanceOf(CamelExecutionException.class)
                .cause().isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.problems())
                        .anySatisfy(p -> assertThat(p.field()).isEqualTo("to")));
        assertThat(mailgate.smtp().received()).isEmpty();
    }
}
