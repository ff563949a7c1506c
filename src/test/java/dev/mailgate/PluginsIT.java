package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.support.PackagedGateway;
import dev.mailgate.support.TestSmtpServer;

/**
 * A Camel component Mailgate does not ship (camel-timer), dropped into {@code plugins/} beside the packaged jar, serves
 * the operator's own route without a rebuild. Without the jar the same route cannot start, which shows that the
 * component came from the folder.
 */
class PluginsIT {

    /** Copied there by the build (pom.xml, plugin-for-tests); it is on no class path of the jar's. */
    private static final Path TIMER_JAR = timerJar();

    private static final String HEARTBEAT = """
            - route:
                id: heartbeat
                from:
                  uri: "timer:heartbeat?repeatCount=1"
                  steps:
                    - setBody:
                        constant: '{"to": "ops@example.com", "subject": "Mailgate heartbeat", "text": "still here"}'
                    - to: direct:mailgate-submit
            """;

    @RegisterExtension
    final PackagedGateway mailgate = PackagedGateway.realTenant();

    @Test
    void a_component_jar_in_plugins_serves_a_user_route_and_without_it_the_route_cannot_start() throws Exception {
        Path routes = Files.createDirectories(mailgate.dir().resolve("routes"));
        try (Stream<Path> shipped = Files.list(Path.of("routes"))) {
            for (Path file : shipped.toList()) {
                Files.copy(file, routes.resolve(file.getFileName()));
            }
        }
        Files.writeString(routes.resolve("heartbeat.yaml"), HEARTBEAT);

        PackagedGateway.Result without = mailgate.command(mailgate.environment(), "run");
        assertThat(without.code()).as("a setting to fix").isEqualTo(78);
        assertThat(without.all()).contains("the route 'heartbeat' uses 'timer:', a Camel component Mailgate does not "
                + "ship; put its jar (usually camel-timer-", "into the plugins folder (mailgate.plugins.dir");

        Path plugins = Files.createDirectories(mailgate.dir().resolve("plugins"));
        Files.copy(TIMER_JAR, plugins.resolve(TIMER_JAR.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        PackagedGateway.Run run = mailgate.start();

        TestSmtpServer.Received mail = mailgate.smtp().awaitReceived(1).get(0);
        assertThat(mail.message().getSubject()).isEqualTo("Mailgate heartbeat");
        assertThat(run.logText()).contains("Plugins from", TIMER_JAR.getFileName().toString());
    }

    private static Path timerJar() {
        try (Stream<Path> jars = Files.list(Path.of("target/test-plugins"))) {
            return jars.filter(j -> j.getFileName().toString().startsWith("camel-timer-")).findFirst().orElseThrow();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
