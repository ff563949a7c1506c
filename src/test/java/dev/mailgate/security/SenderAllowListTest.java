package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import jakarta.jms.Message;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.Jms;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Spoofing: the app registration may send as many mailboxes, but each channel sends only as the senders it is
 * allowed (by default the domain of {@code mailgate.sender}), optionally only as one forced sender, and optionally
 * only to some recipient domains. A request outside its rules is refused with the field and the setting named,
 * before any SMTP connection.
 */
class SenderAllowListTest {

    private static final String API_KEY = "sender-allow-list-test-key-0123456789";

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Gateway gateway;
    private Http http;

    @BeforeEach
    void servers() {
        entra = new TestEntra(tls, null);
        smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());
    }

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
        smtp.close();
        entra.close();
    }

    private void start(Map<String, String> extra) {
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
        properties.put("mailgate.http.api-keys", API_KEY);
        properties.putAll(extra);
        gateway = Gateway.start(dir, properties);
        http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));
    }

    @Test
    void spoofed_sender_from_another_domain_is_refused_by_default_before_any_smtp_connection() {
        start(Map.of());
        gateway.drop("spoof.json", """
                {"from": "CEO <ceo@evil.example>", "to": "alice@example.com", "subject": "Wire money", "text": "x"}
                """);
        gateway.drop("colleague.json", """
                {"from": "shared@contoso.test", "to": "alice@example.com", "subject": "Hi", "text": "x"}
                """);

        JsonNode error = gateway.awaitFailed("spoof.json");
        gateway.awaitSent("colleague.json");

        assertThat(error.path("category").asText()).isEqualTo("invalid-request");
        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo("from");
        assertThat(error.path("errors").get(0).path("message").asText()).contains("'ceo@evil.example' may not send "
                + "through the outbox channel", "contoso.test", "mailgate.outbox.allowed-senders");
        assertThat(smtp.received()).extracting(TestSmtpServer.Received::mailFrom).containsExactly("shared@contoso.test");
    }

    @Test
    void spoofed_from_header_in_an_eml_file_is_held_to_the_same_rule() {
        start(Map.of());
        gateway.drop("spoof.eml", "From: IT Support <it@evil.example>\r\nTo: alice@example.com\r\n"
                + "Subject: Reset your password\r\n\r\nClick here\r\n");

        JsonNode error = gateway.awaitFailed("spoof.eml");

        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo("from");
        assertThat(error.path("errors").get(0).path("message").asText()).contains("it@evil.example");
        assertThat(smtp.connections()).isZero();
    }

    @Test
    void each_channel_has_its_own_allow_list() throws Exception {
        start(Map.of("mailgate.http.allowed-senders", "billing@contoso.test"));

        HttpResponse<String> refused = http.postJson(API_KEY, """
                {"from": "shared@contoso.test", "to": "alice@example.com", "subject": "Hi", "text": "x"}
                """);
        HttpResponse<String> accepted = http.postJson(API_KEY, """
                {"from": "billing@contoso.test", "to": "alice@example.com", "subject": "Invoice", "text": "x"}
                """);
        gateway.drop("shared.json", """
                {"from": "shared@contoso.test", "to": "alice@example.com", "subject": "Hi", "text": "x"}
                """);

        assertThat(refused.statusCode()).isEqualTo(400);
        assertThat(refused.body()).contains("\"from\"", "may not send through the http channel",
                "billing@contoso.test", "mailgate.http.allowed-senders");
        assertThat(accepted.statusCode()).isEqualTo(202);
        gateway.awaitSent("shared.json");
        smtp.awaitReceived(2);
        assertThat(smtp.received()).extracting(TestSmtpServer.Received::mailFrom)
                .containsExactlyInAnyOrder("billing@contoso.test", "shared@contoso.test");
    }

    @Test
    void forced_sender_fills_in_a_missing_from_and_refuses_any_other() {
        start(Map.of("mailgate.outbox.forced-sender", "noreply@contoso.test"));
        gateway.drop("plain.json", """
                {"to": "alice@example.com", "subject": "Report", "text": "x"}
                """);
        gateway.drop("other.json", """
                {"from": "shared@contoso.test", "to": "alice@example.com", "subject": "Hi", "text": "x"}
                """);

        gateway.awaitSent("plain.json");
        JsonNode error = gateway.awaitFailed("other.json");

        assertThat(smtp.received()).extracting(TestSmtpServer.Received::mailFrom).containsExactly("noreply@contoso.test");
        assertThat(error.path("errors").get(0).path("message").asText())
                .contains("sends only as noreply@contoso.test", "mailgate.outbox.forced-sender");
    }

    @Test
    void recipient_outside_the_allowed_domains_is_refused_with_its_field() {
        start(Map.of("mailgate.allowed-recipient-domains", "example.com"));
        gateway.drop("inside.json", """
                {"to": "alice@example.com", "cc": "bob@sub.example.com", "subject": "Hi", "text": "x"}
                """);
        gateway.drop("outside.json", """
                {"to": "alice@example.com", "cc": ["bob@example.com", "exfil@evil.example"], "subject": "Hi",
                 "text": "x"}
                """);

        gateway.awaitSent("inside.json");
        JsonNode error = gateway.awaitFailed("outside.json");

        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo("cc[1]");
        assertThat(error.path("errors").get(0).path("message").asText()).contains("exfil@evil.example",
                "example.com", "mailgate.allowed-recipient-domains");
        assertThat(smtp.received()).hasSize(1);
    }

    @Test
    void spoofed_sender_over_jms_is_dead_lettered_with_the_reason() throws Exception {
        start(Map.of());
        try (Jms jms = Jms.inVm()) {
            jms.send("mailgate.outbox", """
                    {"from": "ceo@evil.example", "to": "alice@example.com", "subject": "Wire money", "text": "x"}
                    """, Map.of());

            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> !jms.browse("mailgate.dlq").isEmpty());
            Message letter = jms.browse("mailgate.dlq").get(0);

            assertThat(letter.getStringProperty("mailgateCategory")).isEqualTo("invalid-request");
            assertThat(letter.getStringProperty("mailgateErrors")).contains("from", "may not send through the jms "
                    + "channel");
        }
        assertThat(smtp.connections()).isZero();
    }

    @Test
    void too_many_recipients_are_refused_before_any_smtp_connection() {
        start(Map.of());
        String recipients = IntStream.range(0, 501).mapToObj(i -> "\"r" + i + "@example.com\"")
                .collect(Collectors.joining(", "));
        gateway.drop("many.json", "{\"to\": [" + recipients + "], \"subject\": \"Hi\", \"text\": \"x\"}");

        JsonNode error = gateway.awaitFailed("many.json");

        assertThat(error.path("errors").get(0).path("message").asText()).contains("501 recipients", "at most 500");
        assertThat(smtp.connections()).isZero();
        assertThat(entra.requests()).isZero();
    }
}
