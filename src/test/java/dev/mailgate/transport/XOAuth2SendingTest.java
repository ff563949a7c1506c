package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * The sending path against a real STARTTLS + XOAUTH2 server and a real HTTPS token endpoint that MSAL4J
 * calls: what goes over the wire, how often Entra ID is asked, and what happens when the server says no.
 */
class XOAuth2SendingTest {

    private static final String HELLO = """
            {"to": "alice@example.com", "subject": "Hello", "text": "Hi Alice"}
            """;

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Gateway gateway;

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

    private Gateway start(Map<String, String> extra) {
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
        properties.putAll(extra);
        gateway = Gateway.start(dir, properties);
        return gateway;
    }

    @Test
    void sends_the_exact_xoauth2_sasl_response_with_the_token_from_entra() {
        start(Map.of());
        gateway.drop("hello.json", HELLO);

        gateway.awaitSent("hello.json");

        List<String> tokens = entra.endpoint().issuedTokens();
        assertThat(tokens).hasSize(1);
        assertThat(smtp.saslResponses()).containsExactly(
                "user=" + Gateway.SENDER + "\u0001auth=Bearer " + tokens.get(0) + "\u0001\u0001");
        TestSmtpServer.Received mail = smtp.awaitReceived(1).get(0);
        assertThat(mail.mailbox()).isEqualTo(Gateway.SENDER);
        assertThat(mail.mailFrom()).isEqualTo(Gateway.SENDER);
        assertThat(mail.recipients()).containsExactly("alice@example.com");
    }

    @Test
    void starts_without_asking_entra_and_even_while_entra_is_down() {
        entra.close();

        start(Map.of());

        assertThat(gateway.context().getRouteController().getRouteStatus("outbox").isStarted()).isTrue();
        assertThat(entra.requests()).isZero();
    }

    @Test
    void fifty_mails_cost_one_token_request_and_at_most_three_connections() {
        start(Map.of());
        IntStream.range(0, 50).forEach(i -> gateway.drop("mail-" + i + ".json", HELLO));

        IntStream.range(0, 50).forEach(i -> gateway.awaitSent("mail-" + i + ".json"));

        assertThat(smtp.received()).hasSize(50);
        assertThat(entra.requests()).isEqualTo(1);
        // authenticated connections are reused: no more than the mailbox's limit, each authenticated once
        assertThat(smtp.connections()).isBetween(1, 3);
        assertThat(smtp.saslResponses()).hasSize(smtp.connections()).containsOnly(smtp.saslResponses().get(0));
    }

    @Test
    void token_near_expiry_is_replaced_before_it_is_used() throws Exception {
        // tokens live 3599 s (MSAL counts whole seconds); with a 3595 s margin one is usable for 3 to 4 seconds
        start(Map.of("mailgate.token.refresh-margin", "3595s", "mailgate.token.refresh-ahead", "0s"));
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");
        Thread.sleep(4500);

        gateway.drop("second.json", HELLO);
        gateway.awaitSent("second.json");

        List<String> tokens = entra.endpoint().issuedTokens();
        assertThat(tokens).hasSize(2);
        assertThat(smtp.saslResponses()).containsExactly(
                "user=" + Gateway.SENDER + "\u0001auth=Bearer " + tokens.get(0) + "\u0001\u0001",
                "user=" + Gateway.SENDER + "\u0001auth=Bearer " + tokens.get(1) + "\u0001\u0001");
    }

    @Test
    void rejected_token_is_replaced_once_and_the_send_retried() {
        start(Map.of());
        smtp.rejectNextAuth(1);
        gateway.drop("hello.json", HELLO);

        JsonNode receipt = gateway.awaitSent("hello.json");

        assertThat(entra.requests()).isEqualTo(2);
        List<String> tokens = entra.endpoint().issuedTokens();
        assertThat(smtp.saslResponses()).extracting(s -> s.split("Bearer ")[1].replace("\u0001", ""))
                .containsExactly(tokens.get(0), tokens.get(1));
        assertThat(smtp.received()).hasSize(1);
        assertThat(receipt.path("attempts").asInt()).isEqualTo(1);
    }

    @Test
    void second_rejection_holds_the_mailbox_with_the_exchange_online_fix_instead_of_failing_the_request() {
        start(Map.of());
        smtp.rejectNextAuth(2);
        gateway.drop("hello.json", HELLO);

        Journal.Entry held = gateway.awaitHeld(Gateway.SENDER);

        assertThat(held.failureCategory()).isEqualTo("auth");
        assertThat(held.serverReply()).isEqualTo("535 5.7.3 Authentication unsuccessful");
        assertThat(held.failureAdvice()).contains("SMTP.SendAsApp", "New-ServicePrincipal",
                "Add-MailboxPermission", "Set-CASMailbox");
        assertThat(held.attempts()).isEqualTo(1);
        assertThat(gateway.queued("hello.json")).exists();
        assertThat(gateway.outbox().resolve(".failed")).doesNotExist();
        assertThat(entra.requests()).isEqualTo(2);
        assertThat(smtp.received()).isEmpty();
    }

    @Test
    void busy_server_reply_is_retried_and_the_mail_then_sent() {
        start(Map.of());
        smtp.replyToNextData(451, "4.7.500 Server busy. Please try again later. [Hostname=TEST]");
        gateway.drop("hello.json", HELLO);

        JsonNode receipt = gateway.awaitSent("hello.json");

        assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
        assertThat(smtp.dataCommands()).isEqualTo(2);
        assertThat(smtp.received()).hasSize(1);
        assertThat(receipt.path("serverReply").asText()).startsWith("250 2.0.0 OK");
    }

    @Test
    void transient_failures_give_up_after_the_configured_attempts() {
        start(Map.of("mailgate.delivery.max-attempts", "3"));
        IntStream.range(0, 3).forEach(i -> smtp.replyToNextData(432, "4.3.2 STOREDRV.ClientSubmit; sender thread "
                + "limit exceeded"));
        gateway.drop("hello.json", HELLO);

        JsonNode error = gateway.awaitFailed("hello.json");

        assertThat(error.path("category").asText()).isEqualTo("transient");
        assertThat(error.path("attempts").asInt()).isEqualTo(3);
        assertThat(error.path("serverReply").asText()).startsWith("432 4.3.2");
        assertThat(error.path("retry").asText()).contains("move the file back");
        assertThat(smtp.dataCommands()).isEqualTo(3);
    }

    @Test
    void unknown_recipient_fails_at_once_with_the_server_reply() {
        start(Map.of());
        gateway.drop("hello.json", """
                {"to": "nobody@contoso.test", "subject": "Hello", "text": "Hi"}
                """);

        JsonNode error = gateway.awaitFailed("hello.json");

        assertThat(error.path("category").asText()).isEqualTo("permanent");
        assertThat(error.path("attempts").asInt()).isEqualTo(1);
        assertThat(error.path("serverReply").asText()).contains("550 5.1.1");
        assertThat(error.path("fix").asText()).contains("recipient");
        assertThat(smtp.dataCommands()).isZero();
    }

    @Test
    void temporary_auth_failure_is_retried_without_blaming_the_token() {
        start(Map.of());
        smtp.replyToNextAuth(454, "4.7.0 Temporary authentication failure");
        gateway.drop("hello.json", HELLO);

        JsonNode receipt = gateway.awaitSent("hello.json");

        assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
        assertThat(entra.requests()).isEqualTo(1);
    }

    @Test
    void gmail_style_334_rejection_counts_as_a_rejected_token() {
        start(Map.of());
        smtp.rejectNextAuthGmailStyle(1);
        gateway.drop("hello.json", HELLO);

        gateway.awaitSent("hello.json");

        assertThat(entra.requests()).isEqualTo(2);
        List<String> tokens = entra.endpoint().issuedTokens();
        assertThat(smtp.saslResponses()).extracting(s -> s.split("Bearer ")[1].replace("\u0001", ""))
                .containsExactly(tokens.get(0), tokens.get(1));
    }

    @Test
    void refusal_for_one_mailbox_holds_only_that_mailbox_and_keeps_the_token_that_works_for_the_others() {
        start(Map.of());
        smtp.refuseMailbox("shared@contoso.test");
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");

        gateway.drop("shared.json", """
                {"from": "shared@contoso.test", "to": "alice@example.com", "subject": "Hello", "text": "Hi"}
                """);
        Journal.Entry held = gateway.awaitHeld("shared@contoso.test");
        gateway.drop("again.json", HELLO);
        gateway.awaitSent("again.json");

        assertThat(held.failureReason()).contains("shared@contoso.test");
        assertThat(held.failureAdvice()).contains("Add-MailboxPermission");
        assertThat(gateway.queued("shared.json")).exists();
        assertThat(smtp.received()).extracting(TestSmtpServer.Received::mailbox).containsOnly(Gateway.SENDER);
        assertThat(entra.requests()).isEqualTo(1);
    }

    @Test
    void stalled_server_hits_the_write_timeout_instead_of_blocking_the_sender() throws Exception {
        start(Map.of("mailgate.smtp.write-timeout", "1s", "mailgate.smtp.read-timeout", "60s",
                "mailgate.delivery.max-attempts", "1", "mailgate.limits.max-message-size", "60MB"));
        byte[] big = new byte[24 * 1024 * 1024];
        java.util.Arrays.fill(big, (byte) 'x');
        gateway.attachment("big.bin", big);
        // without a write timeout the send would simply wait for the server and succeed after 8 s
        smtp.stallNextData(java.time.Duration.ofSeconds(8));
        long started = System.nanoTime();
        gateway.drop("big.json", """
                {"to": "alice@example.com", "subject": "Big", "text": "x", "attachments": [{"path": "big.bin"}]}
                """);

        JsonNode error = gateway.awaitFailed("big.json");

        assertThat((System.nanoTime() - started) / 1_000_000_000.0).isLessThan(6.0);
        assertThat(error.path("category").asText()).isEqualTo("transient");
        // Angus Mail enforces the write timeout by closing the socket under the blocked writer
        assertThat(error.path("reason").asText()).contains("connection to the SMTP server broke");
        assertThat(smtp.received()).isEmpty();
    }
}
