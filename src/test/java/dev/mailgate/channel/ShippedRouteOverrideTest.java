package dev.mailgate.channel;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.camel.Exchange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.outcome.Journal;
import dev.mailgate.support.MailgateExtension;

/**
 * Mailgate's own routes are YAML files in the jar ({@code mailgate/*.yaml}); a file of the same name in the routes
 * folder replaces one, so an operator can add a step to Mailgate's own flow without a rebuild.
 */
class ShippedRouteOverrideTest {

    private static final String SHIPPED = "src/main/resources/mailgate/mailgate-submit.yaml";
    private static final String OUTBOX = "src/main/resources/mailgate/mailgate-outbox.yaml";

    @RegisterExtension
    final MailgateExtension mailgate = MailgateExtension.realTenant()
            .withFolder("mailgate.routes.dir", "routes")
            .prepare(ShippedRouteOverrideTest::routes);

    /** The shipped channel routes, and a copy of the jar's mailgate-submit.yaml with one step added at its end. */
    private static void routes(Path dir) {
        try {
            Path routes = Files.createDirectories(dir.resolve("routes"));
            try (Stream<Path> shipped = Files.list(Path.of("routes"))) {
                for (Path file : shipped.toList()) {
                    Files.copy(file, routes.resolve(file.getFileName()));
                }
            }
            String submit = Files.readString(Path.of(SHIPPED));
            assertThat(submit).endsWith("method: admitAndQueue}\n");
            Files.writeString(routes.resolve("mailgate-submit.yaml"), submit
                    + "        - setHeader: {name: Audited, simple: \"${header.MailgateId} by ${routeId}\"}\n");
            // a channel template too: the outbox's, with a step before Mailgate takes the file
            String outbox = Files.readString(Path.of(OUTBOX));
            String take = "          - bean: {ref: mailgateOutbox, method: take}\n";
            assertThat(outbox).contains(take);
            Files.writeString(routes.resolve("mailgate-outbox.yaml"), outbox.replace(take,
                    "          - log: \"audit: ${header.CamelFileName} from the outbox\"\n" + take));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void a_file_of_the_same_name_in_routes_replaces_mailgates_own_route_and_its_added_step_runs() {
        Exchange answer = mailgate.gateway().context().createProducerTemplate().request(SubmitEndpoint.URI,
                e -> e.getMessage().setBody(Map.of("to", "alice@example.com", "subject", "Hello", "text", "Hi")));

        String id = answer.getMessage().getBody(String.class);
        assertThat(answer.getMessage().getHeader("Audited")).isEqualTo(id + " by mailgate-submit");
        mailgate.gateway().awaitState(id, Journal.State.SENT);
        assertThat(mailgate.logText()).contains("instead of Mailgate's own mailgate-submit.yaml");
    }

    @Test
    void a_replaced_channel_template_makes_the_channel_route_with_its_added_step() {
        mailgate.gateway().drop("hello.json", "{\"to\": \"bob@example.com\", \"subject\": \"Hi\", \"text\": \"Hi\"}");

        mailgate.gateway().awaitSent("hello.json");
        assertThat(mailgate.logText()).contains("audit: hello.json from the outbox",
                "instead of Mailgate's own mailgate-outbox.yaml");
    }
}
