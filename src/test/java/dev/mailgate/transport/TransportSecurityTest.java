package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * A bearer token is only ever sent inside a TLS connection to a server whose certificate and host name
 * verify. Each test offers Mailgate a server that fails one of those and checks that the server never saw
 * an AUTH command or a message.
 */
class TransportSecurityTest {

    private static final String HELLO = """
            {"to": "alice@example.com", "subject": "Hello", "text": "Hi"}
            """;

    @TempDir
    Path dir;

    /** The certificate Mailgate trusts (Entra endpoint and, where the test wants it, the SMTP server). */
    private final SelfSignedCertificate trusted = SelfSignedCertificate.forLocalhost();
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Gateway gateway;

    @BeforeEach
    void entra() {
        entra = new TestEntra(trusted, null);
    }

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (smtp != null) {
            smtp.close();
        }
        entra.close();
    }

    private JsonNode sendAndExpectFailure() {
        gateway = Gateway.start(dir, Gateway.realTenant(dir, entra, smtp.port(), trusted));
        gateway.drop("hello.json", HELLO);
        return gateway.awaitFailed("hello.json");
    }

    @Test
    void server_without_starttls_gets_neither_a_token_nor_a_message() {
        smtp = TestSmtpServer.cleartext(entra.tokens());

        JsonNode error = sendAndExpectFailure();

        assertThat(error.path("category").asText()).isEqualTo("configuration");
        assertThat(error.path("reason").asText()).contains("does not offer STARTTLS", "never sends an access token");
        assertThat(smtp.saslResponses()).isEmpty();
        assertThat(smtp.received()).isEmpty();
    }

    @Test
    void server_offering_only_password_auth_gets_no_token() {
        List<String> passwords = new java.util.concurrent.CopyOnWriteArrayList<>();
        smtp = TestSmtpServer.withPasswordAuthOnly(trusted.serverContext(), passwords);

        JsonNode error = sendAndExpectFailure();

        assertThat(error.path("category").asText()).isEqualTo("configuration");
        assertThat(error.path("reason").asText()).contains("does not offer AUTH XOAUTH2", "no token was sent");
        assertThat(passwords).isEmpty();
        assertThat(smtp.received()).isEmpty();
    }

    @Test
    void server_with_an_untrusted_certificate_is_refused_before_auth() {
        SelfSignedCertificate stranger = SelfSignedCertificate.forLocalhost();
        smtp = TestSmtpServer.withStartTls(stranger.serverContext(), entra.tokens());

        JsonNode error = sendAndExpectFailure();

        assertThat(error.path("category").asText()).isEqualTo("configuration");
        assertThat(error.path("reason").asText()).contains("certificate is not trusted", "no token was sent");
        assertThat(smtp.saslResponses()).isEmpty();
        assertThat(smtp.received()).isEmpty();
    }

    @Test
    void trusted_certificate_for_another_host_name_is_refused_before_auth() {
        // the certificate is in Mailgate's trust store, but it names mail.example.test, not localhost
        SelfSignedCertificate otherHost = SelfSignedCertificate.create("mail.example.test",
                List.of("mail.example.test"), List.of());
        smtp = TestSmtpServer.withStartTls(otherHost.serverContext(), entra.tokens());
        Path trust = dir.resolve("both.p12");
        writeTrustStore(trust, trusted, otherHost);
        var properties = Gateway.realTenant(dir, entra, smtp.port(), trusted);
        properties.put("mailgate.tls.truststore", trust.toString());
        gateway = Gateway.start(dir, properties);
        gateway.drop("hello.json", HELLO);

        JsonNode error = gateway.awaitFailed("hello.json");

        assertThat(error.path("category").asText()).isEqualTo("configuration");
        assertThat(error.path("reason").asText()).contains("does not match the host name");
        assertThat(smtp.saslResponses()).isEmpty();
        assertThat(smtp.received()).isEmpty();
    }

    private static void writeTrustStore(Path file, SelfSignedCertificate... certificates) {
        try {
            java.security.KeyStore store = java.security.KeyStore.getInstance("PKCS12");
            store.load(null, null);
            for (int i = 0; i < certificates.length; i++) {
                store.setCertificateEntry("c" + i, certificates[i].certificate());
            }
            try (var out = java.nio.file.Files.newOutputStream(file)) {
                store.store(out, "changeit".toCharArray());
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
