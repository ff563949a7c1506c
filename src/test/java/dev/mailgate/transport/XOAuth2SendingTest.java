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
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.auth.TokenCache;
import dev.mailgate.auth.XOAuth2Authenticator;
import dev.mailgate.outcome.Journal;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * The sending path against a real STARTTLS + XOAUTH2 server and a real HTTPS token endpoint that MSAL4J
 * calls: what goes over the wire, how often Entra ID is asked, and what happens when the server says no.
 * <p>
 * The cases share a few gateways ({@link MailgateExtension}, one per nested class), each case with outbox files of
 * its own, counting what the SMTP server saw from the moment it began.
 */
class XOAuth2SendingTest {

    private static final String HELLO = """
            {"to": "alice@example.com", "subject": "Hello", "text": "Hi Alice"}
            """;

    private static final AtomicInteger CASES = new AtomicInteger();

    private Gateway gateway;
    private TestSmtpServer smtp;
    private TestEntra entra;
    /** The mailbox this case sends as, its request (from that mailbox to Alice) and the prefix of its files. */
    private String sender;
    private String hello;
    private String prefix;
    /** What the servers had seen when this case began. */
    private TestSmtpServer.Since since;
    private int requestsBefore;
    private int issuedBefore;

    private void use(MailgateExtension mailgate, String mailbox) {
        gateway = mailgate.gateway();
        smtp = mailgate.smtp();
        entra = mailgate.entra();
        int n = CASES.incrementAndGet();
        prefix = "case" + n + "-";
        sender = mailbox != null ? mailbox : "case" + n + "@contoso.test";
        hello = mailbox != null ? HELLO : """
                {"from": "%s", "to": "alice@example.com", "subject": "Hello", "text": "Hi Alice"}
                """.formatted(sender);
        since = smtp.since();
        requestsBefore = entra.requests();
        issuedBefore = entra.endpoint().issuedTokens().size();
    }

    /** Nothing of this case waits any more. */
    private void settle() {
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                .until(() -> gateway.journal().waiting(sender).isEmpty());
    }

    /** One gateway, each case sending as a mailbox of its own: Entra ID is asked for one token in all. */
    @Nested
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class OneToken {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.allowed-senders", "contoso.test")
                .with("mailgate.delivery.max-attempts", "3");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE, null);
        }

        @AfterEach
        void leaveNothingBehind() {
            settle();
        }

        @Test
        @Order(1) // the cache is still empty: fifty sends ask for a token at once
        void fifty_mails_cost_one_token_request_and_at_most_three_connections() {
            IntStream.range(0, 50).forEach(i -> gateway.drop(file("mail-" + i + ".json"), hello));

            IntStream.range(0, 50).forEach(i -> gateway.awaitSent(file("mail-" + i + ".json")));

            assertThat(received()).hasSize(50);
            assertThat(entra.requests()).isEqualTo(1);
            // authenticated connections are reused: no more than the mailbox's limit, each authenticated once
            assertThat(connections()).isBetween(1, 3);
            assertThat(sasl()).hasSize(connections()).containsOnly(sasl().get(0));
        }

        @Test
        void sends_the_exact_xoauth2_sasl_response_with_the_token_from_entra() {
            gateway.drop(file("hello.json"), hello);

            gateway.awaitSent(file("hello.json"));

            List<String> tokens = entra.endpoint().issuedTokens();
            assertThat(tokens).hasSize(1);
            assertThat(sasl()).containsExactly(
                    "user=" + sender + "\u0001auth=Bearer " + tokens.get(0) + "\u0001\u0001");
            TestSmtpServer.Received mail = awaitReceived(1).get(0);
            assertThat(mail.mailbox()).isEqualTo(sender);
            assertThat(mail.mailFrom()).isEqualTo(sender);
            assertThat(mail.recipients()).containsExactly("alice@example.com");
        }

        @Test
        void busy_server_reply_is_retried_and_the_mail_then_sent() {
            smtp.replyToNextData(451, "4.7.500 Server busy. Please try again later. [Hostname=TEST]");
            gateway.drop(file("hello.json"), hello);

            JsonNode receipt = gateway.awaitSent(file("hello.json"));

            assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
            assertThat(dataCommands()).isEqualTo(2);
            assertThat(received()).hasSize(1);
            assertThat(receipt.path("serverReply").asText()).startsWith("250 2.0.0 OK");
        }

        @Test
        void transient_failures_give_up_after_the_configured_attempts() {
            IntStream.range(0, 3).forEach(i -> smtp.replyToNextData(432, "4.3.2 STOREDRV.ClientSubmit; sender thread "
                    + "limit exceeded"));
            gateway.drop(file("hello.json"), hello);

            JsonNode error = gateway.awaitFailed(file("hello.json"));

            assertThat(error.path("category").asText()).isEqualTo("transient");
            assertThat(error.path("attempts").asInt()).isEqualTo(3);
            assertThat(error.path("serverReply").asText()).startsWith("432 4.3.2");
            assertThat(error.path("retry").asText()).contains("move the file back");
            assertThat(dataCommands()).isEqualTo(3);
        }

        @Test
        void unknown_recipient_fails_at_once_with_the_server_reply() {
            gateway.drop(file("hello.json"), """
                    {"from": "%s", "to": "nobody@contoso.test", "subject": "Hello", "text": "Hi"}
                    """.formatted(sender));

            JsonNode error = gateway.awaitFailed(file("hello.json"));

            assertThat(error.path("category").asText()).isEqualTo("permanent");
            assertThat(error.path("attempts").asInt()).isEqualTo(1);
            assertThat(error.path("serverReply").asText()).contains("550 5.1.1");
            assertThat(error.path("fix").asText()).contains("recipient");
            assertThat(dataCommands()).isZero();
        }

        @Test
        void temporary_auth_failure_is_retried_without_blaming_the_token() {
            smtp.replyToNextAuth(454, "4.7.0 Temporary authentication failure");
            gateway.drop(file("hello.json"), hello);

            JsonNode receipt = gateway.awaitSent(file("hello.json"));

            assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
            assertThat(entra.requests()).isEqualTo(1);
        }

        @Test
        @Order(Integer.MAX_VALUE) // shared@contoso.test stays held until the gateway stops
        void refusal_for_one_mailbox_holds_only_that_mailbox_and_keeps_the_token_that_works_for_the_others() {
            smtp.refuseMailbox("shared@contoso.test");
            gateway.drop(file("first.json"), hello);
            gateway.awaitSent(file("first.json"));

            gateway.drop(file("shared.json"), """
                    {"from": "shared@contoso.test", "to": "alice@example.com", "subject": "Hello", "text": "Hi"}
                    """);
            Journal.Entry held = gateway.awaitHeld("shared@contoso.test");
            gateway.drop(file("again.json"), hello);
            gateway.awaitSent(file("again.json"));

            assertThat(held.failureReason()).contains("shared@contoso.test");
            assertThat(held.failureAdvice()).contains("Add-MailboxPermission");
            assertThat(gateway.queued(file("shared.json"))).exists();
            assertThat(received()).extracting(TestSmtpServer.Received::mailbox).containsOnly(sender);
            assertThat(entra.requests()).isEqualTo(1);
        }
    }

    /**
     * One gateway, each case sending as the fixture's own sender ({@link Gateway#SENDER}) with a token already in the
     * cache (fetched before the case if there is none yet): on a new gateway that token would be the first. Kept
     * connections are closed after 100 ms idle and gone before the next case, so that each send authenticates. One
     * attempt per request, and a write timeout of 1 s.
     */
    @Nested
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class TheFixtureSender {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.smtp.pool.idle-timeout", "100ms")
                .with("mailgate.delivery.max-attempts", "1")
                .with("mailgate.smtp.write-timeout", "1s")
                .with("mailgate.smtp.read-timeout", "60s")
                .with("mailgate.limits.max-message-size", "60MB");

        @BeforeEach
        void useTheGateway() {
            tokens(MAILGATE.gateway()).token();
            use(MAILGATE, Gateway.SENDER);
        }

        @AfterEach
        void noKeptConnection() {
            // every case here ends sent, failed or held: nothing is on its way
            smtp.rejectNextAuthGmailStyle(0);
            smtp.rejectNextAuth(0);
            XOAuth2MailSender connections = gateway.context().getRegistry()
                    .lookupByNameAndType(SmtpEndpoint.SENDER_BEAN, XOAuth2MailSender.class);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> connections.idleConnections() == 0);
        }

        @Test
        void rejected_token_is_replaced_once_and_the_send_retried() {
            smtp.rejectNextAuth(1);
            gateway.drop(file("hello.json"), HELLO);

            JsonNode receipt = gateway.awaitSent(file("hello.json"));

            assertThat(requests()).as("token requests since the case began").isEqualTo(1);
            assertThat(sasl()).extracting(s -> s.split("Bearer ")[1].replace("\u0001", ""))
                    .containsExactly(cachedToken(), issuedSince().get(0));
            assertThat(received()).hasSize(1);
            assertThat(receipt.path("attempts").asInt()).isEqualTo(1);
        }

        @Test
        void gmail_style_334_rejection_counts_as_a_rejected_token() {
            smtp.rejectNextAuthGmailStyle(1);
            gateway.drop(file("hello.json"), HELLO);

            gateway.awaitSent(file("hello.json"));

            assertThat(requests()).as("token requests since the case began").isEqualTo(1);
            assertThat(sasl()).extracting(s -> s.split("Bearer ")[1].replace("\u0001", ""))
                    .containsExactly(cachedToken(), issuedSince().get(0));
        }

        @Test
        void stalled_server_hits_the_write_timeout_instead_of_blocking_the_sender() throws Exception {
            byte[] big = new byte[24 * 1024 * 1024];
            java.util.Arrays.fill(big, (byte) 'x');
            gateway.attachment("big.bin", big);
            // without a write timeout the send would simply wait for the server and succeed after 8 s
            smtp.stallNextData(Duration.ofSeconds(8));
            long started = System.nanoTime();
            gateway.drop(file("big.json"), """
                    {"to": "alice@example.com", "subject": "Big", "text": "x", "attachments": [{"path": "big.bin"}]}
                    """);

            JsonNode error = gateway.awaitFailed(file("big.json"));

            assertThat((System.nanoTime() - started) / 1_000_000_000.0).isLessThan(6.0);
            assertThat(error.path("category").asText()).isEqualTo("transient");
            // Angus Mail enforces the write timeout by closing the socket under the blocked writer
            assertThat(error.path("reason").asText()).contains("connection to the SMTP server broke");
            assertThat(received()).isEmpty();
        }

        @Test
        @Order(Integer.MAX_VALUE) // the fixture's sender stays held until the gateway stops
        void second_rejection_holds_the_mailbox_with_the_exchange_online_fix_instead_of_failing_the_request() {
            smtp.rejectNextAuth(2);
            gateway.drop(file("hello.json"), HELLO);

            Journal.Entry held = gateway.awaitHeld(Gateway.SENDER);

            assertThat(held.failureCategory()).isEqualTo("auth");
            assertThat(held.serverReply()).isEqualTo("535 5.7.3 Authentication unsuccessful");
            assertThat(held.failureAdvice()).contains("SMTP.SendAsApp", "New-ServicePrincipal",
                    "Add-MailboxPermission", "Set-CASMailbox");
            assertThat(held.attempts()).isEqualTo(1);
            assertThat(gateway.queued(file("hello.json"))).exists();
            assertThat(gateway.outbox().resolve(".failed").resolve(file("hello.json"))).doesNotExist();
            assertThat(requests()).as("token requests since the case began").isEqualTo(1);
            assertThat(received()).isEmpty();
        }
    }

    /** Entra ID is down when the gateway starts. */
    @Nested
    class EntraDownAtStart {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .prepare(dir -> EntraDownAtStart.MAILGATE.entra().close());

        @Test
        void starts_without_asking_entra_and_even_while_entra_is_down() {
            Gateway gateway = MAILGATE.gateway();

            assertThat(gateway.context().getRouteController().getRouteStatus("outbox").isStarted()).isTrue();
            assertThat(MAILGATE.entra().requests()).isZero();
        }
    }

    /**
     * Tokens live 3599 s (MSAL counts whole seconds); with a 3596 s margin one is usable for 2 to 3 seconds after
     * it was issued.
     */
    @Nested
    class ShortLivedTokens {

        private static final Duration MARGIN = Duration.ofSeconds(3596);

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.token.refresh-margin", MARGIN.toSeconds() + "s")
                .with("mailgate.token.refresh-ahead", "0s");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE, Gateway.SENDER);
        }

        @Test
        void token_near_expiry_is_replaced_before_it_is_used() {
            gateway.drop(file("first.json"), HELLO);
            gateway.awaitSent(file("first.json"));
            TokenCache cache = tokens(gateway);
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                    .until(() -> cache.peek().orElseThrow().remainingAt(Instant.now()).compareTo(MARGIN) < 0);

            gateway.drop(file("second.json"), HELLO);
            gateway.awaitSent(file("second.json"));

            List<String> tokens = entra.endpoint().issuedTokens();
            assertThat(tokens).hasSize(2);
            assertThat(smtp.saslResponses()).containsExactly(
                    "user=" + Gateway.SENDER + "\u0001auth=Bearer " + tokens.get(0) + "\u0001\u0001",
                    "user=" + Gateway.SENDER + "\u0001auth=Bearer " + tokens.get(1) + "\u0001\u0001");
        }
    }

    // --- helpers ----------------------------------------------------------------------------------------------

    /** An outbox file name of this case. */
    private String file(String name) {
        return prefix + name;
    }

    private static TokenCache tokens(Gateway gateway) {
        return gateway.context().getRegistry()
                .lookupByNameAndType(SmtpEndpoint.AUTHENTICATOR_BEAN, XOAuth2Authenticator.class).tokens();
    }

    /** The token the cache held when this case began: the last one Entra ID had issued. */
    private String cachedToken() {
        return entra.endpoint().issuedTokens().get(issuedBefore - 1);
    }

    /** The tokens Entra ID issued during this case. */
    private List<String> issuedSince() {
        List<String> all = entra.endpoint().issuedTokens();
        return all.subList(issuedBefore, all.size());
    }

    /** Token requests Entra ID got during this case. */
    private int requests() {
        return entra.requests() - requestsBefore;
    }

    private int connections() {
        return since.connections();
    }

    private int dataCommands() {
        return since.dataCommands();
    }

    private List<String> sasl() {
        return since.sasl();
    }

    private List<TestSmtpServer.Received> received() {
        return since.received();
    }

    private List<TestSmtpServer.Received> awaitReceived(int count) {
        return since.awaitReceived(count);
    }
}
