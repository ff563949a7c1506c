package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer.Stage;
import dev.mailgate.support.TestSmtpServer;

/**
 * Authenticated connections are kept per mailbox and reused, against the real STARTTLS + XOAUTH2 server: counted on
 * the server (connections, AUTH commands, the token each used), never beyond what is safe.
 */
class ConnectionReuseTest {

    private static final String HELLO = "{\"to\": \"alice@example.com\", \"subject\": \"Hello\", \"text\": \"Hi\"}";

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private final TestEntra entra = new TestEntra(tls, null);
    private TestSmtpServer smtp;
    private Gateway gateway;

    private void start(TestSmtpServer server, Map<String, String> extra) {
        smtp = server;
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
        properties.putAll(extra);
        gateway = Gateway.start(dir, properties);
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

    private XOAuth2MailSender sender() {
        return gateway.context().getRegistry().lookupByNameAndType(SmtpEndpoint.SENDER_BEAN, XOAuth2MailSender.class);
    }

    @Test
    void one_connection_and_one_auth_carry_message_after_message() {
        start(TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens()), Map.of());

        for (int i = 0; i < 10; i++) {
            gateway.drop("mail-" + i + ".json", HELLO);
            gateway.awaitSent("mail-" + i + ".json");
        }

        assertThat(smtp.received()).hasSize(10);
        assertThat(smtp.connections()).isEqualTo(1);
        assertThat(smtp.saslResponses()).hasSize(1);
        assertThat(sender().idleConnections()).isEqualTo(1);
    }

    @Test
    void a_replaced_token_means_a_new_connection_with_the_new_token() {
        // tokens live 12 s and are handed out while 10 s are left: each is usable for 2 s
        entra.endpoint().lifetime(Duration.ofSeconds(12));
        start(TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens()), Map.of(
                "mailgate.token.refresh-margin", "10s", "mailgate.token.refresh-ahead", "1s"));
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");

        // past its 2 s: the next send gets a new token from the cache
        Awaitility.await().pollDelay(Duration.ofMillis(2500)).until(() -> true);
        gateway.drop("second.json", HELLO);
        gateway.awaitSent("second.json");

        List<String> issued = entra.endpoint().issuedTokens();
        assertThat(issued).hasSizeGreaterThanOrEqualTo(2);
        assertThat(smtp.connections()).isEqualTo(2);
        assertThat(smtp.saslResponses()).hasSize(2);
        assertThat(smtp.saslResponses().get(0)).contains(issued.get(0));
        assertThat(smtp.saslResponses().get(1)).doesNotContain(issued.get(0))
                .contains(issued.get(issued.size() - 1));
    }

    @Test
    void a_connection_the_server_closed_while_idle_is_replaced_not_used() {
        start(TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens(), Duration.ofMillis(800)),
                Map.of("mailgate.smtp.pool.validate-after", "100ms"));
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");

        // the server hangs up on the idle connection (Exchange's idle timeout)
        Awaitility.await().pollDelay(Duration.ofMillis(1500)).until(() -> true);
        gateway.drop("second.json", HELLO);
        JsonNode receipt = gateway.awaitSent("second.json");

        assertThat(receipt.path("attempts").asInt()).as("sent at the first attempt").isEqualTo(1);
        assertThat(smtp.connections()).isEqualTo(2);
        assertThat(smtp.received()).hasSize(2);
    }

    @Test
    void a_kept_connection_the_server_closed_since_its_last_use_is_replaced_without_a_failed_attempt() {
        // no NOOP before reuse (validate-after 1 min): the first sign of the closed connection is MAIL FROM's
        start(TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens(), Duration.ofMillis(800)),
                Map.of("mailgate.smtp.pool.validate-after", "1m"));
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");

        Awaitility.await().pollDelay(Duration.ofMillis(1500)).until(() -> true);
        gateway.drop("second.json", HELLO);
        JsonNode receipt = gateway.awaitSent("second.json");

        assertThat(receipt.path("attempts").asInt()).as("sent at the first attempt").isEqualTo(1);
        assertThat(smtp.connections()).isEqualTo(2);
        assertThat(smtp.received()).hasSize(2);
    }

    @Test
    void a_421_to_mail_from_on_a_kept_connection_sends_on_a_new_one_at_once() {
        start(TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens()), Map.of(
                // a failed attempt would wait a minute: the test would time out
                "mailgate.delivery.initial-delay", "1m"));
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");
        smtp.replyToNext(Stage.MAIL_FROM, 421, "4.3.2 Service not available, closing transmission channel");

        gateway.drop("second.json", HELLO);
        JsonNode receipt = gateway.awaitSent("second.json");

        assertThat(receipt.path("attempts").asInt()).isEqualTo(1);
        assertThat(smtp.connections()).isEqualTo(2);
        assertThat(smtp.received()).hasSize(2);
    }

    @Test
    void a_refused_sender_on_a_kept_connection_is_not_tried_again_on_a_new_one() {
        start(TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens()), Map.of(
                "mailgate.delivery.initial-delay", "1m"));
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");
        smtp.replyToNext(Stage.MAIL_FROM, 550, "5.7.60 SMTP; Client does not have permissions to send as this sender");

        gateway.drop("second.json", HELLO);
        JsonNode error = gateway.awaitFailed("second.json");

        assertThat(error.path("serverReply").asText()).contains("5.7.60");
        assertThat(smtp.connections()).as("no second connection for a refusal about the sender").isEqualTo(1);
        assertThat(smtp.mailFromCommands()).isEqualTo(2);
    }

    @Test
    void a_connection_that_failed_is_never_used_again() {
        start(TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens()), Map.of());
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");
        smtp.replyToNext(Stage.END_OF_DATA, 451, "4.7.500 Server busy. Please try again later.");

        gateway.drop("second.json", HELLO);
        JsonNode receipt = gateway.awaitSent("second.json");

        // the first connection carried the refused attempt and was closed; the retry opened a second one
        assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
        assertThat(smtp.connections()).isEqualTo(2);
        assertThat(smtp.saslResponses()).hasSize(2);
        assertThat(smtp.received()).hasSize(2);
    }

    @Test
    void idle_connections_are_closed_after_the_idle_timeout() {
        start(TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens()),
                Map.of("mailgate.smtp.pool.idle-timeout", "500ms"));
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");

        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sender().idleConnections() == 0);
        gateway.drop("second.json", HELLO);
        gateway.awaitSent("second.json");
        assertThat(smtp.connections()).isEqualTo(2);
    }

    @Test
    void each_mailbox_has_its_own_connections_and_never_more_than_its_limit() {
        start(TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens()), Map.of(
                "mailgate.allowed-senders", "contoso.test", "mailgate.limits.connections-per-mailbox", "2"));
        IntStream.range(0, 20).forEach(i -> gateway.drop("a-" + i + ".json",
                "{\"from\": \"a@contoso.test\", \"to\": \"x@example.com\", \"subject\": \"S\", \"text\": \"T\"}"));
        IntStream.range(0, 20).forEach(i -> gateway.drop("b-" + i + ".json",
                "{\"from\": \"b@contoso.test\", \"to\": \"x@example.com\", \"subject\": \"S\", \"text\": \"T\"}"));

        IntStream.range(0, 20).forEach(i -> {
            gateway.awaitSent("a-" + i + ".json");
            gateway.awaitSent("b-" + i + ".json");
        });

        assertThat(smtp.received()).hasSize(40);
        List<String> sasl = smtp.saslResponses();
        long asA = sasl.stream().filter(s -> s.startsWith("user=a@contoso.test\u0001")).count();
        long asB = sasl.stream().filter(s -> s.startsWith("user=b@contoso.test\u0001")).count();
        assertThat(asA).isBetween(1L, 2L);
        assertThat(asB).isBetween(1L, 2L);
        assertThat(smtp.mostDataAtOnce("a@contoso.test")).isLessThanOrEqualTo(2);
        assertThat(sender().idleConnections()).isLessThanOrEqualTo(4);
    }
}
