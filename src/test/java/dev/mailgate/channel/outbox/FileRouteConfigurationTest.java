package dev.mailgate.channel.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.apache.camel.util.ObjectHelper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.support.Gateway;

/** A mistake in a folder route's parameters stops start-up naming the parameter, instead of failing every file. */
class FileRouteConfigurationTest {

    @TempDir
    Path dir;

    @Test
    void bad_recipient_and_unknown_template_in_a_folder_route_stop_start_up_with_the_parameters_named()
            throws Exception {
        Path routes = Files.createDirectories(dir.resolve("routes"));
        Files.writeString(routes.resolve("invoices.yaml"), """
                - templatedRoute:
                    routeTemplateRef: mailgate-outbox-files
                    routeId: invoices
                    parameters:
                      - name: folder
                        value: invoices-in
                      - name: to
                        value: "billing@"
                      - name: template
                        value: invoyce
                """);
        Map<String, String> properties = Gateway.folders(dir);
        properties.put("mailgate.routes.dir", routes.toString());

        Throwable failure = catchThrowable(() -> Gateway.start(dir, properties).close());

        ConfigurationException config = ObjectHelper.getException(ConfigurationException.class, failure);
        assertThat(config).as("a ConfigurationException in %s", failure).isNotNull();
        assertThat(config.problems()).anySatisfy(p -> assertThat(p).contains("the route for folder invoices-in",
                "parameter to[0]", "'billing@' is not an email address"));
        assertThat(config.problems()).anySatisfy(p -> assertThat(p).contains("parameter template",
                "unknown template 'invoyce'"));
    }

    @Test
    void a_control_character_in_a_folder_route_address_stops_start_up_with_the_parameter_named() throws Exception {
        Path routes = Files.createDirectories(dir.resolve("routes"));
        // YAML's double-quoted escapes: a quoted local part holding SOH, a display name holding ESC
        Files.writeString(routes.resolve("scans.yaml"), """
                - templatedRoute:
                    routeTemplateRef: mailgate-outbox-files
                    routeId: scans
                    parameters:
                      - name: folder
                        value: scans-in
                      - name: to
                        value: "\\"x\\x01auth=Bearer evil\\"@example.com"
                      - name: cc
                        value: "Archive\\x1b[2J <archive@example.com>"
                """);
        Map<String, String> properties = Gateway.folders(dir);
        properties.put("mailgate.routes.dir", routes.toString());

        Throwable failure = catchThrowable(() -> Gateway.start(dir, properties).close());

        ConfigurationException config = ObjectHelper.getException(ConfigurationException.class, failure);
        assertThat(config).as("a ConfigurationException in %s", failure).isNotNull();
        assertThat(config.problems()).anySatisfy(p -> assertThat(p).contains("the route for folder scans-in",
                "parameter to[0]", "control character U+0001"));
        assertThat(config.problems()).anySatisfy(p -> assertThat(p).contains("parameter cc[0]",
                "control character U+001B"));
        assertThat(String.join("\n", config.problems())).doesNotContain("\u0001", "\u001B");
    }
}
