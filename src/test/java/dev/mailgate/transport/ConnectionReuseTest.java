package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.auth.TokenCache;
import dev.mailgate.auth.XOAuth2Authenticator;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer.Stage;
import dev.mailgate.support.TestSmtpServer;

/**
 * Authenticated connections are kept per mailbox and reused, against the real STARTTLS + XOAUTH2 server: counted on
 * the server (connections, AUTH commands, the token each used), never beyond what is safe.
 * <p>
 * The cases share a gateway ({@link MailgateExtension}) where their settings allow, one per nested class; there each
 * sends as a mailbox of its own (its own kept connections) and counts what the server saw from the moment it began.
 */
class ConnectionReuseTest {

    private static final AtomicInteger CASES = new AtomicInteger();

    private Gateway gateway;
    private TestSmtpServer smtp;
    private TestEntra entra;
    /** The mailbox this case sends as, its request (from that mailbox to Alice) and the prefix of its files. */
    private String sender;
    private String hello;
    private String prefix;
    private TestSmtpServer.Since since;
    private int idleBefore;

    private void use(MailgateExtension mailgate) {
        gateway = mailgate.gateway();
        smtp = mailgate.smtp();
        entra = mailgate.entra();
        int n = CASES.incrementAndGet();
        prefix = "case" + n + "-";
        sender = "case" + n + "@contoso.test";
        hello = "{\"from\": \"" + sender + "\", \"to\": \"alice@example.com\", \"subject\": \"Hello\", "
                + "\"text\": \"Hi\"}";
        since = smtp.since();
        idleBefore = sender().idleConnections();
    }

    private static MailgateExtension fixture() {
        return MailgateExtension.realTenant().withQuickStop().with("mailgate.allowed-senders", "contoso.test");
    }

    private XOAuth2MailSender sender() {
        return gateway.context().getRegistry().lookupByNameAndType(SmtpEndpoint.SENDER_BEAN, XOAuth2MailSender.class);
    }

    /**
     * The cases with the default pool: two connections per mailbox at most, and kept connections closed after 10
     * minutes idle rather than 30 s, so that the kept connections of earlier cases do not go away during a later one.
     */
    @Nested
    class OneGateway {

        @RegisterExtension
        static final MailgateExtension MAILGATE = fixture()
                .with("mailgate.limits.connections-per-mailbox", "2")
                .with("mailgate.smtp.pool.idle-timeout", "10m");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @AfterEach
        void leaveNothingBehind() {
            Awaitility.await().atMost(Duration.ofSeconds(30))
                    .until(() -> gateway.journal().waiting(sender).isEmpty());
        }

        @Test
        void one_connection_and_one_auth_carry_message_after_message() {
            for (int i = 0; i < 10; i++) {
                gateway.drop(file("mail-" + i + ".json"), hello);
                gateway.awaitSent(file("mail-" + i + ".json"));
            }

            assertThat(received()).hasSize(10);
            assertThat(connections()).isEqualTo(1);
            assertThat(sasl()).hasSize(1);
            assertThat(idleConnections()).isEqualTo(1);
        }

        @Test
        void a_421_to_mail_from_on_a_kept_connection_sends_on_a_new_one_at_once() {
            gateway.drop(file("first.json"), hello);
            gateway.awaitSent(file("first.json"));
            smtp.replyToNext(Stage.MAIL_FROM, 421, "4.3.2 Service not available, closing transmission channel");

            gateway.drop(file("second.json"), hello);
            JsonNode receipt = gateway.awaitSent(file("second.json"));

            // at once: on the first attempt, not on a retry of a failed one
            assertThat(receipt.path("attempts").asInt()).isEqualTo(1);
            assertThat(connections()).isEqualTo(2);
            assertThat(received()).hasSize(2);
        }

        @Test
        void a_refused_sender_on_a_kept_connection_is_not_tried_again_on_a_new_one() {
            gateway.drop(file("first.json"), hello);
            gateway.awaitSent(file("first.json"));
            smtp.replyToNext(Stage.MAIL_FROM, 550,
                    "5.7.60 SMTP; Client does not have permissions to send as this sender");

            gateway.drop(file("second.json"), hello);
            JsonNode error = gateway.awaitFailed(file("second.json"));

            assertThat(error.path("serverReply").asText()).contains("5.7.60");
            assertThat(connections()).as("no second connection for a refusal about the sender").isEqualTo(1);
            assertThat(mailFromCommands()).isEqualTo(2);
        }

        @Test
        void a_connection_that_failed_is_never_used_again() {
            gateway.drop(file("first.json"), hello);
            gateway.awaitSent(file("first.json"));
            smtp.replyToNext(Stage.END_OF_DATA, 451, "4.7.500 Server busy. Please try again later.");

            gateway.drop(file("second.json"), hello);
            JsonNode receipt = gateway.awaitSent(file("second.json"));

            // the first connection carried the refused attempt and was closed; the retry opened a second one
            assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
            assertThat(connections()).isEqualTo(2);
            assertThat(sasl()).hasSize(2);
            assertThat(received()).hasSize(2);
        }

        @Test
        void each_mailbox_has_its_own_connections_and_never_more_than_its_limit() {
            IntStream.range(0, 20).forEach(i -> gateway.drop(file("a-" + i + ".json"),
                    "{\"from\": \"a@contoso.test\", \"to\": \"x@example.com\", \"subject\": \"S\", \"text\": \"T\"}"));
            IntStream.range(0, 20).forEach(i -> gateway.drop(file("b-" + i + ".json"),
                    "{\"from\": \"b@contoso.test\", \"to\": \"x@example.com\", \"subject\": \"S\", \"text\": \"T\"}"));

            IntStream.range(0, 20).forEach(i -> {
                gateway.awaitSent(file("a-" + i + ".json"));
                gateway.awaitSent(file("b-" + i + ".json"));
            });

            assertThat(received()).hasSize(40);
            List<String> sasl = sasl();
            long asA = sasl.stream().filter(s -> s.startsWith("user=a@contoso.test\u0001")).count();
            long asB = sasl.stream().filter(s -> s.startsWith("user=b@contoso.test\u0001")).count();
            assertThat(asA).isBetween(1L, 2L);
            assertThat(asB).isBetween(1L, 2L);
            assertThat(smtp.mostDataAtOnce("a@contoso.test")).isLessThanOrEqualTo(2);
            assertThat(idleConnections()).isLessThanOrEqualTo(4);
        }
    }

    /** Tokens live 12 s and are handed out while 10 s are left: each is usable for 1 to 2 s (whole seconds). */
    @Nested
    class ShortLivedTokens {

        private static final Duration MARGIN = Duration.ofSeconds(10);

        @RegisterExtension
        static final MailgateExtension MAILGATE = fixture()
                .with("mailgate.token.refresh-margin", MARGIN.toSeconds() + "s")
                .with("mailgate.token.refresh-ahead", "1s")
                .prepare(dir -> ShortLivedTokens.MAILGATE.entra().endpoint().lifetime(Duration.ofSeconds(12)));

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @Test
        void a_replaced_token_means_a_new_connection_with_the_new_token() {
            gateway.drop(file("first.json"), hello);
            gateway.awaitSent(file("first.json"));

            // past its time: the next send gets a new token from the cache
            TokenCache tokens = gateway.context().getRegistry()
                    .lookupByNameAndType(SmtpEndpoint.AUTHENTICATOR_BEAN, XOAuth2Authenticator.class).tokens();
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                    .until(() -> tokens.peek().orElseThrow().remainingAt(Instant.now()).compareTo(MARGIN) < 0);
            gateway.drop(file("second.json"), hello);
            gateway.awaitSent(file("second.json"));

            List<String> issued = entra.endpoint().issuedTokens();
            assertThat(issued).hasSizeGreaterThanOrEqualTo(2);
            assertThat(connections()).isEqualTo(2);
            assertThat(sasl()).hasSize(2);
            assertThat(sasl().get(0)).contains(issued.get(0));
            assertThat(sasl().get(1)).doesNotContain(issued.get(0))
                    .contains(issued.get(issued.size() - 1));
        }
    }

    /** The server hangs up on a connection silent for 800 ms; one idle for 100 ms gets a NOOP before it is reused. */
    @Nested
    class ServerIdleTimeoutWithNoop {

        @RegisterExtension
        static final MailgateExtension MAILGATE = fixture()
                .withSmtpIdleTimeout(Duration.ofMillis(800))
                .with("mailgate.smtp.pool.validate-after", "100ms");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @Test
        void a_connection_the_server_closed_while_idle_is_replaced_not_used() {
            gateway.drop(file("first.json"), hello);
            gateway.awaitSent(file("first.json"));

            // the server hangs up on the idle connection (Exchange's idle timeout)
            Awaitility.await().pollDelay(Duration.ofMillis(1500)).until(() -> true);
            gateway.drop(file("second.json"), hello);
            JsonNode receipt = gateway.awaitSent(file("second.json"));

            assertThat(receipt.path("attempts").asInt()).as("sent at the first attempt").isEqualTo(1);
            assertThat(connections()).isEqualTo(2);
            assertThat(received()).hasSize(2);
        }
    }

    /** The server hangs up on a connection silent for 800 ms; no NOOP before reuse (validate-after 1 min). */
    @Nested
    class ServerIdleTimeoutWithoutNoop {

        @RegisterExtension
        static final MailgateExtension MAILGATE = fixture()
                .withSmtpIdleTimeout(Duration.ofMillis(800))
                .with("mailgate.smtp.pool.validate-after", "1m");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @Test
        void a_kept_connection_the_server_closed_since_its_last_use_is_replaced_without_a_failed_attempt() {
            // the first sign of the closed connection is MAIL FROM's
            gateway.drop(file("first.json"), hello);
            gateway.awaitSent(file("first.json"));

            Awaitility.await().pollDelay(Duration.ofMillis(1500)).until(() -> true);
            gateway.drop(file("second.json"), hello);
            JsonNode receipt = gateway.awaitSent(file("second.json"));

            assertThat(receipt.path("attempts").asInt()).as("sent at the first attempt").isEqualTo(1);
            assertThat(connections()).isEqualTo(2);
            assertThat(received()).hasSize(2);
        }
    }

    /** Kept connections are closed after 500 ms idle. */
    @Nested
    class PoolIdleTimeout {

        @RegisterExtension
        static final MailgateExtension MAILGATE = fixture().with("mailgate.smtp.pool.idle-timeout", "500ms");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @Test
        void idle_connections_are_closed_after_the_idle_timeout() {
            gateway.drop(file("first.json"), hello);
            gateway.awaitSent(file("first.json"));

            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> sender().idleConnections() == 0);
            gateway.drop(file("second.json"), hello);
            gateway.awaitSent(file("second.json"));
            assertThat(connections()).isEqualTo(2);
        }
    }

    // --- helpers ----------------------------------------------------------------------------------------------

    /** An outbox file name of this case. */
    private String file(String name) {
        return prefix + name;
    }

    /** Kept connections now, over all mailboxes, less those kept when this case began. */
    private int idleConnections() {
        return sender().idleConnections() - idleBefore;
    }

    private int connections() {
        return since.connections();
    }

    private int mailFromCommands() {
        return since.mailFromCommands();
    }

    private List<String> sasl() {
        return since.sasl();
    }

    private List<TestSmtpServer.Received> received() {
        return since.received();
    }
}
