package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Both forms of SASL XOAUTH2 against a real STARTTLS server: the token on the AUTH line, and AUTH XOAUTH2 → 334 →
 * the token on its own line, for a server that refuses long command lines ({@code 500 5.5.2 Line too long}, as some
 * submission servers do with lines near 1 KB while Entra tokens are 1.5–3 KB).
 */
class XOAuth2FormsTest {

    private static final String HELLO = "{\"to\": \"alice@example.com\", \"subject\": \"Hello\", \"text\": \"Hi\"}";

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private final TestEntra entra = new TestEntra(tls, null);
    private final TestSmtpServer smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());
    private Gateway gateway;

    private void start(Map<String, String> extra) {
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
        // a connection per message, so that each message authenticates
        properties.put("mailgate.smtp.pool.enabled", "false");
        properties.putAll(extra);
        gateway = Gateway.start(dir, properties);
    }

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
        smtp.close();
        entra.close();
    }

    private String expectedSasl() {
        return "user=" + Gateway.SENDER + "\u0001auth=Bearer " + entra.endpoint().issuedTokens().get(0)
                + "\u0001\u0001";
    }

    @Test
    void by_default_the_token_goes_on_the_auth_line() {
        start(Map.of());
        gateway.drop("hello.json", HELLO);
        gateway.awaitSent("hello.json");

        assertThat(smtp.twoLineAuths()).isZero();
        assertThat(smtp.saslResponses()).containsExactly(expectedSasl());
    }

    @Test
    void a_server_that_refuses_the_long_auth_line_gets_the_two_line_form_from_then_on() {
        smtp.limitAuthLine(500);
        start(Map.of());

        gateway.drop("first.json", HELLO);
        JsonNode first = gateway.awaitSent("first.json");
        gateway.drop("second.json", HELLO);
        gateway.awaitSent("second.json");

        // the first message: the refused line, then the two-line form on a new connection, in the same attempt
        assertThat(first.path("attempts").asInt()).isEqualTo(1);
        assertThat(smtp.twoLineAuths()).isEqualTo(2);
        // remembered: the second message went straight to the two-line form (3 connections, not 4)
        assertThat(smtp.connections()).isEqualTo(3);
        assertThat(smtp.saslResponses()).containsExactly(expectedSasl(), expectedSasl());
        assertThat(smtp.received()).hasSize(2);
    }

    @Test
    void a_forced_initial_response_that_the_server_refuses_is_a_configuration_error_with_the_fix() {
        smtp.limitAuthLine(500);
        start(Map.of("mailgate.smtp.xoauth2-form", "initial-response"));

        gateway.drop("hello.json", HELLO);
        JsonNode error = gateway.awaitFailed("hello.json");

        assertThat(error.path("category").asText()).isEqualTo("configuration");
        assertThat(error.path("reason").asText()).contains("refused the AUTH line that carries the token",
                "mailgate.smtp.xoauth2-form=initial-response");
        assertThat(error.path("fix").asText()).contains("mailgate.smtp.xoauth2-form", "auto", "two-line");
        assertThat(error.path("serverReply").asText()).startsWith("500");
        assertThat(error.path("attempts").asInt()).as("not retried: the same line would be refused again")
                .isEqualTo(1);
        assertThat(smtp.twoLineAuths()).isZero();
        assertThat(smtp.received()).isEmpty();
    }

    @Test
    void the_two_line_form_can_be_chosen_from_the_start() {
        start(Map.of("mailgate.smtp.xoauth2-form", "two-line"));
        gateway.drop("hello.json", HELLO);
        gateway.awaitSent("hello.json");

        assertThat(smtp.twoLineAuths()).isEqualTo(1);
        assertThat(smtp.connections()).isEqualTo(1);
        assertThat(smtp.saslResponses()).containsExactly(expectedSasl());
    }

    @Test
    void a_rejected_token_in_the_two_line_form_is_refreshed_once_like_in_the_other() {
        start(Map.of("mailgate.smtp.xoauth2-form", "two-line"));
        smtp.rejectNextAuth(1);
        gateway.drop("hello.json", HELLO);
        gateway.awaitSent("hello.json");

        assertThat(entra.requests()).isEqualTo(2);
        assertThat(smtp.twoLineAuths()).isEqualTo(2);
        assertThat(smtp.received()).hasSize(1);
    }
}
