package dev.mailgate.outcome;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Stream;

import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.TextMessage;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.Jms;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer.Stage;
import dev.mailgate.support.TestSmtpServer;
import dev.mailgate.transport.SmtpEndpoint;
import dev.mailgate.transport.XOAuth2MailSender;

/**
 * The outcome table of README "Delivery", end to end: the real gateway against an SMTP server that gives Exchange
 * Online's replies on demand at the stage where Exchange gives them (or drops the connection after DATA, or stalls),
 * and a token endpoint that is down, slow or refuses the client. Each case asserts what the server received and what
 * the client side shows: the journal, the outbox's outcome folders, the dead-letter queue and the health check.
 * <p>
 * The cases share a few gateways ({@link MailgateExtension}, one per nested class: one for most cases, one each for
 * the settings or the token endpoint a case needs for itself). Each case sends as a mailbox of its own (its own
 * connections, its own hold) and an outbox file of its own, and counts what the SMTP server saw from the moment it
 * began; the shared gateway's cases leave nothing waiting and no fault scripted behind them.
 */
class DeliveryFaultMatrixTest {

    private static final String API_KEY = "fault-matrix-api-key-0123456789";
    private static final String QUEUE = "mailgate.outbox";
    private static final String DLQ = "mailgate.dlq";
    /** How Exchange Online ends its replies: the front-end server that answered. */
    private static final String EXO = "[AM7PR02MB5862.eurprd02.prod.outlook.com]";

    // Exchange Online's replies (the texts of issue 4, point 1)
    private static final String THREAD_LIMIT = "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded "
            + "[Hostname=AM7PR02MB5862.eurprd02.prod.outlook.com]";
    private static final String SERVER_BUSY = "4.7.500 Server busy. Please try again later from [203.0.113.7]. "
            + "(S77719) " + EXO;
    private static final String SERVICE_NOT_AVAILABLE = "4.3.2 Service not available, closing transmission channel "
            + EXO;
    private static final String TLS_VERSION = "4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your "
            + "client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls. " + EXO;
    private static final String AUTH_UNSUCCESSFUL = "5.7.3 Authentication unsuccessful " + EXO;
    private static final String SMTP_AUTH_DISABLED = "5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
            + "is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information. " + EXO;
    private static final String NOT_AUTHENTICATED = "5.7.57 Client not authenticated to send mail. " + EXO;
    private static final String TENANT_BLOCKED = "5.7.708 Service unavailable. Access denied, traffic not accepted "
            + "from this IP. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653 AS(7171) "
            + EXO;
    private static final String RECIPIENT_NOT_FOUND = "5.1.1 RESOLVER.ADR.RecipNotFound; not found " + EXO;
    private static final String TOO_LARGE = "5.3.4 Message size exceeds fixed maximum message size " + EXO;
    private static final String QUOTA_EXCEEDED = "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException;"
            + " Failed to process message due to a permanent exception with message Cannot submit message. "
            + "0.35250:0A000000, 1.36674:0A000000, 1.61250:00000000 [Hostname=AM7PR02MB5862.eurprd02.prod.outlook.com]";
    private static final String SEND_AS_DENIED = "5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException."
            + "MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message Cannot "
            + "submit message. 0.35250:0A007C85, 1.36674:0A000000 [Hostname=AM7PR02MB5862.eurprd02.prod.outlook.com]";

    private static final AtomicInteger CASES = new AtomicInteger();

    /**
     * A gateway with short retry settings: two attempts for temporary failures, 200 ms to the first retry, quota
     * deferrals of 1 s and held mailboxes probed every 500 ms; {@code settings} (key, value, ...) override them. Any
     * mailbox of contoso.test may send, so that each case has its own.
     */
    private static MailgateExtension matrix(String... settings) {
        MailgateExtension mailgate = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.http.api-keys", API_KEY)
                .with("mailgate.allowed-senders", "contoso.test")
                .with("mailgate.delivery.max-attempts", "2")
                .with("mailgate.delivery.initial-delay", "200ms")
                .with("mailgate.delivery.max-delay", "1s")
                .with("mailgate.delivery.quota-delay", "1s")
                .with("mailgate.delivery.auth-probe-interval", "500ms")
                .with("mailgate.token.failure-backoff", "100ms");
        for (int i = 0; i < settings.length; i += 2) {
            mailgate.with(settings[i], settings[i + 1]);
        }
        return mailgate;
    }

    private Gateway gateway;
    private TestSmtpServer smtp;
    private TestEntra entra;
    private Http http;
    private Jms jms;
    /** This case's sending mailbox, its outbox file and its request (from that mailbox to Alice). */
    private String sender;
    private String mail;
    private String hello;
    /** What the SMTP server and the token endpoint had seen when this case began. */
    private TestSmtpServer.Since since;
    private int entraRequestsBefore;

    /** Takes the gateway and servers of {@code mailgate} for this case, with a mailbox and a file of its own. */
    private void use(MailgateExtension mailgate) {
        use(mailgate, null);
    }

    /** The same, sending as {@code mailbox} ({@code null}: a mailbox of its own). */
    private void use(MailgateExtension mailgate, String mailbox) {
        gateway = mailgate.gateway();
        smtp = mailgate.smtp();
        entra = mailgate.entra();
        http = mailgate.http();
        int n = CASES.incrementAndGet();
        sender = mailbox != null ? mailbox : "case" + n + "@contoso.test";
        mail = "mail-" + n + ".json";
        hello = """
                {"from": "%s", "to": "alice@example.com", "subject": "Fault matrix", "text": "Hi Alice"}
                """.formatted(sender);
        since = smtp.since();
        entraRequestsBefore = entra.requests();
    }

    /** Ends the faults this case scripted on the SMTP server, so that the next case starts with a healthy one. */
    private void heal() {
        smtp.heal();
        smtp.rejectNextAuthGmailStyle(0);
    }

    /** Heals the server and waits until nothing of this case waits any more: no hold, no retry left behind. */
    private void settle() {
        heal();
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                .until(() -> gateway.journal().waiting(sender).isEmpty());
    }

    @AfterEach
    void closeJms() {
        if (jms != null) {
            jms.close();
            jms = null;
        }
    }

    /** Most cases: one gateway with the short retry settings of {@link #matrix}. */
    @Nested
    class OneGateway {

        @RegisterExtension
        static final MailgateExtension MAILGATE = matrix();

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @AfterEach
        void leaveNothingBehind() {
            settle();
        }

        // --- accepted ---------------------------------------------------------------------------------------

        @Test
        void accepted_mail_is_moved_to_sent_with_a_receipt_and_reaches_the_server_exactly_once() {
            gateway.drop(mail, """
                    {"from": "%s", "to": "alice@example.com", "cc": "bob@example.com", "bcc": "carol@example.com",
                     "subject": "Fault matrix", "text": "Hi"}
                    """.formatted(sender));

            JsonNode receipt = gateway.awaitSent(mail);

            assertThat(receipt.path("status").asText()).isEqualTo("sent");
            assertThat(receipt.path("attempts").asInt()).isEqualTo(1);
            assertThat(receipt.path("recipients").asInt()).isEqualTo(3);
            assertThat(receipt.path("mailbox").asText()).isEqualTo(sender);
            assertThat(receipt.path("messageId").asText()).isNotBlank();
            Journal.Entry entry = gateway.journal().find(receipt.path("id").asText()).orElseThrow();
            assertThat(entry.state()).isEqualTo(Journal.State.SENT);
            assertThat(entry.attempts()).isEqualTo(1);
            assertThat(states(entry)).doesNotContain(Journal.State.RETRYING, Journal.State.FAILED)
                    .endsWith(Journal.State.SENDING, Journal.State.SENT);
            // server side: one connection, one token, one message with the whole envelope
            TestSmtpServer.Received received = awaitReceived(1).get(0);
            assertThat(received()).hasSize(1);
            assertThat(received.mailFrom()).isEqualTo(sender);
            assertThat(received.mailbox()).isEqualTo(sender);
            assertThat(received.recipients()).containsExactlyInAnyOrder("alice@example.com", "bob@example.com",
                    "carol@example.com");
            assertThat(received.text()).doesNotContain("carol@example.com");
            assertThat(connections()).isEqualTo(1);
            assertThat(dataCommands()).isEqualTo(1);
            assertThat(sasl()).hasSize(1);
            assertThat(mailboxesCheck().path("status").asText()).isEqualTo("UP");
        }

        @Test
        void receipt_and_journal_record_the_servers_250_reply_to_the_message() {
            gateway.drop(mail, hello);

            JsonNode receipt = gateway.awaitSent(mail);

            // the server numbers the messages it accepts: this is the first since the case began
            assertThat(receipt.path("serverReply").asText())
                    .startsWith("250 2.0.0 OK <" + (since.receivedBefore() + 1) + "@test> [Hostname=TEST]");
            Journal.Entry entry = gateway.journal().find(receipt.path("id").asText()).orElseThrow();
            assertThat(entry.serverReply()).startsWith("250 2.0.0 OK");
            assertThat(event(entry, Journal.State.SENT).detail()).startsWith("250 2.0.0 OK");
        }

        // --- transient ----------------------------------------------------------------------------------------

        static Stream<Arguments> deferralsAtTheEndOfData() {
            return Stream.of(
                    Arguments.of(432, THREAD_LIMIT),
                    Arguments.of(451, SERVER_BUSY),
                    Arguments.of(421, SERVICE_NOT_AVAILABLE));
        }

        @ParameterizedTest(name = "{0} {1}: retried after a backoff, then sent")
        @MethodSource("deferralsAtTheEndOfData")
        void deferral_at_the_end_of_data_is_retried_with_backoff_and_then_sent(int code, String text) {
            smtp.replyToNext(Stage.END_OF_DATA, code, text);
            gateway.drop(mail, hello);

            JsonNode receipt = gateway.awaitSent(mail);

            assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
            Journal.Entry entry = gateway.journal().find(receipt.path("id").asText()).orElseThrow();
            assertThat(entry.state()).isEqualTo(Journal.State.SENT);
            assertThat(states(entry)).containsSubsequence(Journal.State.SENDING, Journal.State.RETRYING,
                    Journal.State.SENDING, Journal.State.SENT);
            Journal.Event retrying = event(entry, Journal.State.RETRYING);
            assertThat(retrying.detail()).contains("transient", code + " " + text.substring(0, 5));
            assertRetriedAfter(entry, Duration.ofMillis(200));
            assertNotFailed();
            // server side: two connections and two DATA, one message kept
            assertThat(connections()).isEqualTo(2);
            assertThat(dataCommands()).isEqualTo(2);
            assertThat(received()).hasSize(1);
            assertThat(received().get(0).recipients()).containsExactly("alice@example.com");
        }

        @Test
        void deferral_that_persists_is_given_up_after_max_attempts_with_category_transient_and_the_reply() {
            smtp.replyToEvery(Stage.END_OF_DATA, 432, THREAD_LIMIT);
            gateway.drop(mail, hello);

            JsonNode error = gateway.awaitFailed(mail);

            assertThat(error.path("status").asText()).isEqualTo("failed");
            assertThat(error.path("category").asText()).isEqualTo("transient");
            assertThat(error.path("attempts").asInt()).isEqualTo(2);
            assertThat(error.path("serverReply").asText()).isEqualTo("432 " + THREAD_LIMIT);
            assertThat(error.path("fix").asText()).isNotBlank();
            assertThat(error.path("retry").asText()).contains("move the file back");
            Journal.Entry entry = gateway.journal().find(error.path("id").asText()).orElseThrow();
            assertThat(entry.state()).isEqualTo(Journal.State.FAILED);
            assertThat(entry.failureCategory()).isEqualTo("transient");
            assertThat(entry.attempts()).isEqualTo(2);
            assertThat(states(entry)).containsSubsequence(Journal.State.SENDING, Journal.State.RETRYING,
                    Journal.State.SENDING, Journal.State.FAILED);
            assertThat(gateway.queued(mail)).doesNotExist();
            assertThat(dataCommands()).isEqualTo(2);
            assertThat(received()).isEmpty();
        }

        @Test
        void connection_dropped_after_data_is_retried_and_the_mail_delivered_again() {
            smtp.dropConnectionAfterNextData(1);
            gateway.drop(mail, hello);

            JsonNode receipt = gateway.awaitSent(mail);

            // The duplicate risk: the server had the whole message when the connection broke, and the client cannot
            // know whether it was accepted. Retrying is the only way not to lose it, so the server ends up with two
            // copies, both with the same Message-ID (which lets receiving systems drop the second).
            assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
            Journal.Entry entry = gateway.journal().find(receipt.path("id").asText()).orElseThrow();
            assertThat(event(entry, Journal.State.RETRYING).detail()).contains("transient");
            assertThat(dataCommands()).isEqualTo(2);
            assertThat(received()).hasSize(2);
            assertThat(received()).extracting(r -> header(r, "Message-ID"))
                    .containsOnly(receipt.path("messageId").asText());
        }

        // --- held --------------------------------------------------------------------------------------------

        @Test
        void mailbox_held_for_a_refusal_at_mail_from_stays_held_while_the_probe_can_authenticate() throws Exception {
            smtp.replyToEvery(Stage.MAIL_FROM, 550, TENANT_BLOCKED);
            gateway.drop(mail, hello);
            gateway.awaitHeld(sender);

            // four probe rounds: each authenticates fine, but Exchange still refuses the probe's MAIL FROM
            for (int i = 0; i < 8; i++) {
                Thread.sleep(250);
                HttpResponse<String> health = http.get(API_KEY, "/api/v1/health");
                assertThat(health.statusCode()).as("health after %d ms", (i + 1) * 250).isEqualTo(503);
            }
            // the request's own MAIL FROM, then one per probe round (500 ms): never one per request per round
            assertThat(mailFromCommands()).as("MAIL FROM while held").isBetween(2, 1 + 2000 / 500 + 2);
            assertThat(dataCommands()).isZero();
            assertThat(gateway.journal().waiting(sender)).hasSize(1);
            assertNotFailed();
        }

        // --- permanent ----------------------------------------------------------------------------------------

        static Stream<Arguments> permanentRefusals() {
            return Stream.of(
                    Arguments.of(Stage.RCPT_TO, 550, RECIPIENT_NOT_FOUND, "recipient", 0),
                    Arguments.of(Stage.END_OF_DATA, 552, TOO_LARGE, "smaller", 1),
                    Arguments.of(Stage.END_OF_DATA, 554, SEND_AS_DENIED, "Add-MailboxPermission", 1));
        }

        @ParameterizedTest(name = "{1} {2} at {0}: failed at once with the reply")
        @MethodSource("permanentRefusals")
        void permanent_refusal_fails_at_once_with_the_server_reply_and_the_fix(Stage stage, int code, String text,
                String fix, int dataCommands) {
            smtp.replyToEvery(stage, code, text);
            gateway.drop(mail, hello);

            JsonNode error = gateway.awaitFailed(mail);

            assertThat(error.path("status").asText()).isEqualTo("failed");
            assertThat(error.path("category").asText()).isEqualTo("permanent");
            assertThat(error.path("attempts").asInt()).isEqualTo(1);
            assertThat(error.path("serverReply").asText()).isEqualTo(code + " " + text);
            assertThat(error.path("fix").asText()).contains(fix);
            assertThat(error.has("retry")).isFalse();
            assertThat(gateway.outbox().resolve(".failed").resolve(mail)).exists();
            Journal.Entry entry = gateway.journal().find(error.path("id").asText()).orElseThrow();
            assertThat(entry.state()).isEqualTo(Journal.State.FAILED);
            assertThat(entry.failureCategory()).isEqualTo("permanent");
            assertThat(entry.attempts()).isEqualTo(1);
            assertThat(states(entry)).doesNotContain(Journal.State.RETRYING);
            assertThat(mailFromCommands()).isEqualTo(1);
            assertThat(dataCommands()).isEqualTo(dataCommands);
            assertThat(received()).isEmpty();
        }

        // --- configuration ------------------------------------------------------------------------------------

        @Test
        void tls_version_refusal_right_after_starttls_fails_as_configuration_without_sending_a_token() {
            smtp.refuseAfterStartTls(421, TLS_VERSION);
            gateway.drop(mail, hello);

            JsonNode error = gateway.awaitFailed(mail);

            assertThat(error.path("category").asText()).isEqualTo("configuration");
            assertThat(error.path("attempts").asInt()).isEqualTo(1);
            assertThat(error.path("reason").asText()).contains("TLS version", "no token was sent");
            assertThat(error.path("serverReply").asText()).startsWith("421 4.7.66");
            assertThat(error.path("fix").asText()).contains("proxy");
            Journal.Entry entry = gateway.journal().find(error.path("id").asText()).orElseThrow();
            assertThat(entry.state()).isEqualTo(Journal.State.FAILED);
            assertThat(entry.failureCategory()).isEqualTo("configuration");
            assertThat(states(entry)).doesNotContain(Journal.State.RETRYING);
            // the server never saw a token, and was not asked again
            assertThat(sasl()).isEmpty();
            assertThat(connections()).isEqualTo(1);
            assertThat(received()).isEmpty();
        }

        // --- the JMS channel ----------------------------------------------------------------------------------

        @Test
        void jms_request_deferred_until_max_attempts_is_dead_lettered_with_its_reason() throws Exception {
            jms = Jms.inVm();
            smtp.replyToEvery(Stage.END_OF_DATA, 451, SERVER_BUSY);
            String jmsId = jms.send(QUEUE, hello, Map.of());

            Journal.Entry failed = gateway.awaitState(idOf(jmsId), Journal.State.FAILED);

            assertThat(failed.failureCategory()).isEqualTo("transient");
            assertThat(failed.attempts()).isEqualTo(2);
            assertThat(failed.serverReply()).isEqualTo("451 " + SERVER_BUSY);
            assertThat(states(failed)).containsSubsequence(Journal.State.RETRYING, Journal.State.FAILED);
            Message letter = awaitDeadLetter(idOf(jmsId));
            assertThat(((TextMessage) letter).getText()).isEqualTo(hello);
            assertThat(letter.getStringProperty("mailgateId")).isEqualTo(idOf(jmsId));
            assertThat(letter.getStringProperty("mailgateCategory")).isEqualTo("transient");
            assertThat(letter.getStringProperty("mailgateServerReply")).isEqualTo("451 " + SERVER_BUSY);
            assertThat(letter.getStringProperty("mailgateAttempts")).isEqualTo("2");
            assertThat(letter.getStringProperty("mailgateReason")).isNotBlank();
            assertThat(letter.getStringProperty("mailgateFix")).isNotBlank();
            assertThat(Instant.parse(letter.getStringProperty("mailgateFailedAt"))).isBeforeOrEqualTo(Instant.now());
            assertThat(letter.getStringProperty("mailgateSource")).startsWith("jms:").contains(jmsId);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> jms.browse(QUEUE).isEmpty());
            assertThat(dataCommands()).isEqualTo(2);
            assertThat(received()).isEmpty();
        }

        @Test
        void jms_request_refused_for_good_is_dead_lettered_at_once_with_the_server_reply() throws Exception {
            jms = Jms.inVm();
            smtp.replyToEvery(Stage.END_OF_DATA, 554, SEND_AS_DENIED);
            String jmsId = jms.send(QUEUE, hello, Map.of());

            Journal.Entry failed = gateway.awaitState(idOf(jmsId), Journal.State.FAILED);

            assertThat(failed.failureCategory()).isEqualTo("permanent");
            assertThat(failed.attempts()).isEqualTo(1);
            assertThat(states(failed)).containsExactly(Journal.State.RECEIVED, Journal.State.SENDING,
                    Journal.State.FAILED);
            Message letter = awaitDeadLetter(idOf(jmsId));
            assertThat(letter.getStringProperty("mailgateId")).isEqualTo(idOf(jmsId));
            assertThat(letter.getStringProperty("mailgateCategory")).isEqualTo("permanent");
            assertThat(letter.getStringProperty("mailgateServerReply")).isEqualTo("554 " + SEND_AS_DENIED);
            assertThat(letter.getStringProperty("mailgateAttempts")).isEqualTo("1");
            assertThat(letter.getStringProperty("mailgateFix")).contains("Add-MailboxPermission");
            assertThat(dataCommands()).isEqualTo(1);
            assertThat(received()).isEmpty();
        }
    }

    /**
     * A refusal at AUTH, each case as the fixture's own sender. On a new gateway the first send has no kept
     * connection and a token no mailbox has used. Here the token was accepted before, but only for this same mailbox,
     * so a refusal is still blamed on the token (replaced once), not on the mailbox; and kept connections are closed
     * after 100 ms idle, and gone before the next case, so that its send has to authenticate.
     */
    @Nested
    class AuthRefusals {

        @RegisterExtension
        static final MailgateExtension MAILGATE = matrix("mailgate.smtp.pool.idle-timeout", "100ms");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE, Gateway.SENDER);
        }

        @AfterEach
        void leaveNothingBehind() {
            settle();
            XOAuth2MailSender connections = gateway.context().getRegistry()
                    .lookupByNameAndType(SmtpEndpoint.SENDER_BEAN, XOAuth2MailSender.class);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> connections.idleConnections() == 0);
        }

        // --- auth ---------------------------------------------------------------------------------------------

        static Stream<Arguments> authRefusals() {
            Consumer<TestSmtpServer> heal = TestSmtpServer::heal;
            return Stream.of(
                    Arguments.of("535 5.7.3 for the token and again for a fresh one",
                            (Consumer<TestSmtpServer>) s -> s.replyToEvery(Stage.AUTH, 535, AUTH_UNSUCCESSFUL), heal,
                            "535 5.7.3", "SMTP.SendAsApp"),
                    Arguments.of("535 5.7.139 SMTP AUTH disabled for the mailbox",
                            (Consumer<TestSmtpServer>) s -> s.replyToEvery(Stage.AUTH, 535, SMTP_AUTH_DISABLED), heal,
                            "535 5.7.139", "SmtpClientAuthenticationDisabled $false"),
                    Arguments.of("Gmail-style 334 <json> for the token and again for a fresh one",
                            (Consumer<TestSmtpServer>) s -> s.rejectNextAuthGmailStyle(1_000),
                            (Consumer<TestSmtpServer>) s -> s.rejectNextAuthGmailStyle(0),
                            "", "SMTP.SendAsApp"));
        }

        @ParameterizedTest(name = "{0}: mailbox held, request pending, health DOWN; sent once the probe authenticates")
        @MethodSource("authRefusals")
        void authentication_refused_at_auth_holds_the_mailbox_and_resumes_by_itself(String fault,
                Consumer<TestSmtpServer> refuse, Consumer<TestSmtpServer> heal, String reply, String fix) {
            refuse.accept(smtp);
            gateway.drop(mail, hello);

            Journal.Entry held = gateway.awaitHeld(sender);

            assertHeld(held, reply, fix);
            assertThat(held.attempts()).isEqualTo(1);
            // the refused token was replaced once: two AUTH, two different tokens, nothing past AUTH
            List<String> sasl = sasl();
            assertThat(sasl.size()).isGreaterThanOrEqualTo(2);
            assertThat(sasl.get(1)).isNotEqualTo(sasl.get(0));
            assertThat(mailFromCommands()).isZero();
            assertThat(received()).isEmpty();
            assertHealthReportsTheHold(reply, fix);

            heal.accept(smtp);
            JsonNode receipt = gateway.awaitSent(mail);

            Journal.Entry entry = gateway.journal().find(receipt.path("id").asText()).orElseThrow();
            assertThat(states(entry)).containsSubsequence(Journal.State.RETRYING, Journal.State.SENT)
                    .doesNotContain(Journal.State.FAILED);
            assertThat(received()).hasSize(1);
            assertThat(mailboxesCheck().path("status").asText()).isEqualTo("UP");
        }

        @Test
        void jms_request_refused_at_auth_is_not_dead_lettered_but_waits_and_is_sent_after_the_fix() throws Exception {
            jms = Jms.inVm();
            smtp.replyToEvery(Stage.AUTH, 535, SMTP_AUTH_DISABLED);
            String jmsId = jms.send(QUEUE, hello, Map.of());

            Journal.Entry held = gateway.awaitHeld(sender);

            assertThat(held.id()).isEqualTo(idOf(jmsId));
            assertHeld(held, "535 5.7.139", "SmtpClientAuthenticationDisabled $false");
            // a few probe rounds later it still waits, and nothing was dead-lettered
            Thread.sleep(1200);
            assertThat(gateway.journal().find(idOf(jmsId)).orElseThrow().state()).isEqualTo(Journal.State.RETRYING);
            assertThat(deadLetters(idOf(jmsId))).isEmpty();
            assertThat(received()).isEmpty();

            smtp.heal();
            Journal.Entry sent = gateway.awaitState(idOf(jmsId), Journal.State.SENT);

            assertThat(states(sent)).containsSubsequence(Journal.State.RETRYING, Journal.State.SENT);
            assertThat(deadLetters(idOf(jmsId))).isEmpty();
            assertThat(received()).hasSize(1);
        }
    }

    /**
     * A held mailbox is not probed while the case runs (probe every minute), and a request has one attempt only: a
     * quota deferral must go on regardless.
     */
    @Nested
    class NoProbeOneAttempt {

        @RegisterExtension
        static final MailgateExtension MAILGATE = matrix("mailgate.delivery.auth-probe-interval", "1m",
                "mailgate.delivery.max-attempts", "1");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @AfterEach
        void healTheServer() {
            // a mailbox held here stays held (nobody probes it before the class ends): it is this case's own
            heal();
        }

        @Test
        void submission_quota_exceeded_is_deferred_by_the_quota_delay_not_bounced_and_sent_later() {
            smtp.replyToNext(Stage.END_OF_DATA, 554, QUOTA_EXCEEDED);
            gateway.drop(mail, hello);

            Journal.Entry deferred = awaitRetrying("quota");

            assertThat(deferred.serverReply()).isEqualTo("554 " + QUOTA_EXCEEDED);
            assertThat(deferred.failureAdvice()).contains("24-hour");
            assertThat(gateway.queued(mail)).exists();
            assertNotFailed();
            assertThat(received()).isEmpty();

            JsonNode receipt = gateway.awaitSent(mail);

            // two attempts although only one is allowed: a quota deferral is never given up
            assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
            Journal.Entry entry = gateway.journal().find(receipt.path("id").asText()).orElseThrow();
            assertThat(states(entry)).containsSubsequence(Journal.State.SENDING, Journal.State.RETRYING,
                    Journal.State.SENDING, Journal.State.SENT).doesNotContain(Journal.State.FAILED);
            assertThat(entry.events()).filteredOn(e -> e.state() == Journal.State.RETRYING)
                    .allSatisfy(e -> assertThat(e.detail()).startsWith("quota:"));
            // deferred by mailgate.delivery.quota-delay (1 s), not by the 200 ms backoff
            assertRetriedAfter(entry, Duration.ofMillis(900));
            assertThat(dataCommands()).isEqualTo(2);
            assertThat(received()).hasSize(1);
        }

        static Stream<Arguments> refusalsAtMailFrom() {
            return Stream.of(
                    Arguments.of(530, NOT_AUTHENTICATED, "Add-MailboxPermission"),
                    Arguments.of(550, TENANT_BLOCKED, "support request"));
        }

        @ParameterizedTest(name = "{0} {1} at MAIL FROM: mailbox held, request pending, health DOWN")
        @MethodSource("refusalsAtMailFrom")
        void refusal_at_mail_from_that_the_classifier_calls_auth_holds_the_mailbox(int code, String text,
                String fix) {
            // no probe during the test: a probe only authenticates, which works here (see the shared gateway's case)
            smtp.replyToEvery(Stage.MAIL_FROM, code, text);
            gateway.drop(mail, hello);

            Journal.Entry held = gateway.awaitHeld(sender);

            assertHeld(held, code + " " + text, fix);
            assertThat(held.attempts()).isEqualTo(1);
            assertThat(sasl()).hasSize(1);
            assertThat(mailFromCommands()).isEqualTo(1);
            assertThat(dataCommands()).isZero();
            assertThat(received()).isEmpty();
            assertHealthReportsTheHold(code + " " + text.substring(0, 5), fix);
        }
    }

    /**
     * Read timeouts of 1 s towards Entra ID and the SMTP server. The slow-Entra case runs first: no token may be in
     * the cache yet.
     */
    @Nested
    @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
    class Timeouts {

        @RegisterExtension
        static final MailgateExtension MAILGATE = matrix("mailgate.entra.read-timeout", "1s",
                "mailgate.smtp.read-timeout", "1s", "mailgate.delivery.initial-delay", "500ms");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @AfterEach
        void leaveNothingBehind() {
            entra.endpoint().delay(Duration.ZERO);
            settle();
        }

        @Test
        @Order(1)
        void slow_entra_hits_the_read_timeout_and_the_retry_gets_a_token_and_sends() {
            entra.endpoint().delay(Duration.ofSeconds(3));
            gateway.drop(mail, hello);

            Journal.Entry retrying = awaitRetrying("transient");
            entra.endpoint().delay(Duration.ZERO);
            JsonNode receipt = gateway.awaitSent(mail);

            assertThat(retrying.failureReason()).contains("Entra ID", "did not answer in time");
            assertThat(gateway.queued(mail)).doesNotExist();
            assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
            assertThat(entra.requests() - entraRequestsBefore).isGreaterThanOrEqualTo(2);
            // the first attempt never reached the SMTP server
            assertThat(connections()).isEqualTo(1);
            assertThat(sasl()).hasSize(1);
            assertThat(received()).hasSize(1);
        }

        @Test
        @Order(2)
        void stalled_server_hits_the_read_timeout_and_the_retry_is_sent() {
            smtp.stallAfterNextData(Duration.ofMillis(1500));
            gateway.drop(mail, hello);

            JsonNode receipt = gateway.awaitSent(mail);

            assertThat(receipt.path("attempts").asInt()).isEqualTo(2);
            Journal.Entry entry = gateway.journal().find(receipt.path("id").asText()).orElseThrow();
            assertThat(event(entry, Journal.State.RETRYING).detail()).contains("transient", "did not answer in time");
            // the stalled transaction was never answered and never kept
            assertThat(dataCommands()).isEqualTo(2);
            assertThat(received()).hasSize(1);
        }
    }

    /** The app's secret is wrong: Entra ID refuses every token request. */
    @Nested
    class WrongSecret {

        @RegisterExtension
        static final MailgateExtension MAILGATE = matrix("mailgate.entra.client-secret",
                "Xy7~wrong-secret-value.9876543210");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @Test
        void entra_invalid_client_holds_the_mailbox_with_the_entra_fix_and_never_contacts_the_smtp_server() {
            gateway.drop(mail, hello);

            Journal.Entry held = gateway.awaitHeld(sender);

            assertThat(held.state()).isEqualTo(Journal.State.RETRYING);
            assertThat(held.failureCategory()).isEqualTo("auth");
            assertThat(held.failureReason()).contains("AADSTS7000215", "not its Secret ID");
            assertThat(held.failureAdvice()).isNotBlank();
            assertThat(gateway.queued(mail)).exists();
            assertNotFailed();
            assertThat(entra.requests() - entraRequestsBefore).isGreaterThanOrEqualTo(1);
            assertThat(connections()).isZero();
            JsonNode mailboxes = assertHealthDown();
            assertThat(mailboxes.path("details").path("mailbox." + sender + ".reason").asText())
                    .contains("AADSTS7000215");
            assertThat(mailboxes.path("details").path("mailbox." + sender + ".fix").asText()).isNotBlank();
        }
    }

    /** Entra ID cannot be reached at all (its endpoint is closed) and no token was ever fetched. */
    @Nested
    class EntraDown {

        @RegisterExtension
        static final MailgateExtension MAILGATE = matrix();

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @Test
        void entra_down_is_transient_and_given_up_after_max_attempts_without_contacting_the_smtp_server() {
            entra.close();
            gateway.drop(mail, hello);

            JsonNode error = gateway.awaitFailed(mail);

            assertThat(error.path("category").asText()).isEqualTo("transient");
            assertThat(error.path("attempts").asInt()).isEqualTo(2);
            assertThat(error.path("reason").asText()).contains("cannot reach Entra ID");
            assertThat(error.has("serverReply")).isFalse();
            assertThat(error.path("retry").asText()).contains("move the file back");
            Journal.Entry entry = gateway.journal().find(error.path("id").asText()).orElseThrow();
            assertThat(entry.state()).isEqualTo(Journal.State.FAILED);
            assertThat(entry.failureCategory()).isEqualTo("transient");
            assertThat(states(entry)).containsSubsequence(Journal.State.RETRYING, Journal.State.FAILED);
            // no token, so no connection to the SMTP server at all
            assertThat(connections()).isZero();
            assertThat(sasl()).isEmpty();
        }
    }

    // --- helpers ----------------------------------------------------------------------------------------------

    /** TCP connections the SMTP server accepted during this case. */
    private int connections() {
        return since.connections();
    }

    /** Mail transactions that reached DATA during this case. */
    private int dataCommands() {
        return since.dataCommands();
    }

    /** MAIL FROM commands the server got during this case. */
    private int mailFromCommands() {
        return since.mailFromCommands();
    }

    /** The SASL XOAUTH2 responses the server saw during this case, in order. */
    private List<String> sasl() {
        return since.sasl();
    }

    /** The messages the server accepted during this case. */
    private List<TestSmtpServer.Received> received() {
        return since.received();
    }

    private List<TestSmtpServer.Received> awaitReceived(int count) {
        return since.awaitReceived(count);
    }

    /** Nothing of this case went to the outbox's .failed/ folder. */
    private void assertNotFailed() {
        assertThat(gateway.outbox().resolve(".failed").resolve(mail)).doesNotExist();
        assertThat(gateway.outbox().resolve(".failed").resolve(mail + ".error.json")).doesNotExist();
    }

    /** The delivery id the JMS channel gives a message from another application. */
    private static String idOf(String jmsMessageId) {
        return UUID.nameUUIDFromBytes(("jms:" + jmsMessageId).getBytes(StandardCharsets.UTF_8)).toString();
    }

    private static List<Journal.State> states(Journal.Entry entry) {
        return entry.events().stream().map(Journal.Event::state).toList();
    }

    private static Journal.Event event(Journal.Entry entry, Journal.State state) {
        return entry.events().stream().filter(e -> e.state() == state).findFirst()
                .orElseThrow(() -> new AssertionError("no " + state + " in " + entry.events()));
    }

    /** Every retry began at least {@code delay} after the failure before it was recorded. */
    private static void assertRetriedAfter(Journal.Entry entry, Duration delay) {
        List<Journal.Event> events = entry.events();
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i).state() != Journal.State.RETRYING) {
                continue;
            }
            Instant failedAt = events.get(i).at();
            Optional<Journal.Event> next = events.subList(i + 1, events.size()).stream()
                    .filter(e -> e.state() == Journal.State.SENDING).findFirst();
            assertThat(next).as("an attempt after %s", events.get(i)).isPresent();
            assertThat(Duration.between(failedAt, next.get().at())).as("wait before the retry")
                    .isGreaterThanOrEqualTo(delay.minusMillis(50));
        }
    }

    /** The journal entry of this test's request once it is waiting in {@code category}. */
    private Journal.Entry awaitRetrying(String category) {
        AtomicReference<Journal.Entry> found = new AtomicReference<>();
        Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20)).until(() -> {
            for (String id : gateway.journal().waiting(sender)) {
                Optional<Journal.Entry> entry = gateway.journal().find(id);
                if (entry.isPresent() && entry.get().state() == Journal.State.RETRYING
                        && category.equals(entry.get().failureCategory())) {
                    found.set(entry.get());
                    return true;
                }
            }
            return false;
        });
        return found.get();
    }

    /** Held, not failed: RETRYING with category auth, the reply and the fix; the file waits in .queued/. */
    private void assertHeld(Journal.Entry held, String reply, String fix) {
        assertThat(held.state()).isEqualTo(Journal.State.RETRYING);
        assertThat(held.failureCategory()).isEqualTo("auth");
        assertThat(held.failureAdvice()).contains(fix);
        if (!reply.isEmpty()) {
            assertThat(held.serverReply()).startsWith(reply);
        }
        assertThat(states(held)).doesNotContain(Journal.State.FAILED);
        if (held.channel().equals("outbox")) {
            assertThat(gateway.queued(mail)).exists();
            assertNotFailed();
        }
    }

    private void assertHealthReportsTheHold(String reply, String fix) {
        JsonNode details = assertHealthDown().path("details");
        String prefix = "mailbox." + sender + ".";
        assertThat(details.path(prefix + "state").asText()).isEqualTo("held");
        assertThat(details.path(prefix + "fix").asText()).contains(fix);
        assertThat(details.path(prefix + "waiting").asText()).isEqualTo("1");
        if (!reply.isEmpty()) {
            assertThat(details.path(prefix + "serverReply").asText()).startsWith(reply);
        }
    }

    /** {@code GET /api/v1/health} answers 503 with the mailboxes check DOWN; returns that check. */
    private JsonNode assertHealthDown() {
        HttpResponse<String> response = http.get(API_KEY, "/api/v1/health");
        assertThat(response.statusCode()).isEqualTo(503);
        JsonNode health = Http.json(response);
        assertThat(health.path("status").asText()).isEqualTo("DOWN");
        JsonNode mailboxes = check(health, "mailboxes");
        assertThat(mailboxes.path("status").asText()).isEqualTo("DOWN");
        assertThat(mailboxes.path("message").asText()).contains("sending as " + sender + " is held");
        return mailboxes;
    }

    private JsonNode mailboxesCheck() {
        return check(Http.json(http.get(API_KEY, "/api/v1/health")), "mailboxes");
    }

    private static JsonNode check(JsonNode health, String id) {
        for (JsonNode check : health.path("checks")) {
            if (id.equals(check.path("id").asText())) {
                return check;
            }
        }
        throw new AssertionError("no health check " + id + " in " + health.toPrettyString());
    }

    /** The dead letter of delivery {@code id}, once there is one (the broker keeps earlier cases' letters too). */
    private Message awaitDeadLetter(String id) throws JMSException {
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> deadLetters(id).size() == 1);
        return deadLetters(id).get(0);
    }

    private List<Message> deadLetters(String id) throws JMSException {
        List<Message> letters = new java.util.ArrayList<>();
        for (Message letter : jms.browse(DLQ)) {
            if (id.equals(letter.getStringProperty("mailgateId"))) {
                letters.add(letter);
            }
        }
        return letters;
    }

    private static String header(TestSmtpServer.Received received, String name) {
        try {
            return received.message().getHeader(name, null);
        } catch (jakarta.mail.MessagingException e) {
            throw new IllegalStateException(e);
        }
    }
}
