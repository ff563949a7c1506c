package dev.mailgate.outcome;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.policy.FailureClassifier;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer.Stage;
import dev.mailgate.support.TestSmtpServer;

/**
 * Exchange Online's replies to an SMTP AUTH submission that are about the sending mailbox rather than the message,
 * given at the stage Exchange gives them, end to end: a full sending mailbox holds its requests (never bounces the
 * queue) until a trial gets through; a recipient's full mailbox fails that message only; a mailbox Exchange throttles
 * after continuous errors is deferred, not dead-lettered; a spam-blocked mailbox is held.
 */
class ExchangeRepliesTest {

    /** Microsoft's text ("SMTP AUTH submission improvements"), as Exchange ends it with the front end's name. */
    static final String SENDER_MAILBOX_FULL = "5.2.2 mailbox full; STOREDRV.Submission.Exception:"
            + "QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent "
            + "exception with message [BeginDiagnosticData]Cannot open mailbox. [Hostname=AM7PR02MB5862.eurprd02.prod"
            + ".outlook.com]";
    static final String RECIPIENT_MAILBOX_FULL = "5.2.2 STOREDRV.Deliver; mailbox full: the recipient's mailbox is "
            + "over its quota [Hostname=AM7PR02MB5862.eurprd02.prod.outlook.com]";

    /** How often a held mailbox is probed (and a trial let through). */
    private static final Duration PROBE = Duration.ofMillis(250);

    // one gateway for the class: each test leaves the server healed and nothing waiting (afterEach), and looks only at
    // what the server and the outbox saw since it began
    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.delivery.auth-probe-interval", PROBE.toMillis() + "ms")
            .with("mailgate.delivery.quota-delay", "300ms")
            .with("mailgate.delivery.initial-delay", "200ms");

    private int logBefore;
    private TestSmtpServer.Since since;
    private List<String> failedBefore;

    @BeforeEach
    void noteWhatCameBefore() {
        logBefore = mailgate.logLines().size();
        since = mailgate.smtp().since();
        failedBefore = failedFiles();
    }

    @AfterEach
    void healAndNoSecretInTheLog() {
        // the next test starts on a healed server, with no mailbox held and nothing waiting
        mailgate.smtp().heal();
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).until(() ->
                mailgate.gateway().journal().waiting(Gateway.SENDER).isEmpty()
                        && mailboxesCheck().path("status").asText().equals("UP"));
        assertThat(mailgate.logText()).doesNotContain(mailgate.entra().endpoint().issuedTokens());
    }

    /** What the gateway logged since this test began. */
    private String logSinceStart() {
        List<String> lines = mailgate.logLines();
        return String.join("\n", lines.subList(logBefore, lines.size()));
    }

    /** What the server received since this test began. */
    private List<TestSmtpServer.Received> received() {
        return since.received();
    }

    /** Mail transactions that reached DATA since this test began. */
    private int dataCommands() {
        return since.dataCommands();
    }

    /** What is in the outbox's .failed/ now that was not when this test began. */
    private List<String> failedSinceStart() {
        return failedFiles().stream().filter(f -> !failedBefore.contains(f)).toList();
    }

    private static List<String> failedFiles() {
        Path failed = mailgate.gateway().outbox().resolve(".failed");
        if (!Files.isDirectory(failed)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(failed)) {
            return files.map(f -> f.getFileName().toString()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void a_full_sending_mailbox_holds_every_waiting_request_and_a_trial_lifts_the_hold_once_it_has_room() {
        TestSmtpServer smtp = mailgate.smtp();
        Gateway gateway = mailgate.gateway();
        smtp.replyToEvery(Stage.END_OF_DATA, 554, SENDER_MAILBOX_FULL);
        for (int i = 1; i <= 3; i++) {
            gateway.drop("invoice-" + i + ".json", request("Invoice " + i));
        }

        Journal.Entry held = gateway.awaitHeld(Gateway.SENDER);
        // when the first try failed and the mailbox was held
        java.time.Instant heldAt = gateway.journal().waiting(Gateway.SENDER).stream()
                .flatMap(id -> gateway.journal().find(id).orElseThrow().events().stream())
                .filter(e -> e.state() == Journal.State.RETRYING).map(Journal.Event::at).min(Comparator.naturalOrder())
                .orElseThrow();

        assertThat(held.failureCategory()).isEqualTo("mailbox-full");
        assertThat(held.failureReason()).contains("sending mailbox is full", "Sent Items");
        assertThat(held.failureAdvice()).contains("Sent Items", "retention policy", "ProhibitSendQuota");
        // a few trials later: every request still waits, none failed, nothing reached a mailbox
        Awaitility.await().pollDelay(PROBE.multipliedBy(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
        assertThat(gateway.journal().waiting(Gateway.SENDER)).hasSize(3);
        assertThat(failedSinceStart()).isEmpty();
        assertThat(received()).isEmpty();
        // the trials are one request per probe round, not every waiting request each time: the three first tries, then
        // at most one for each round that began since the hold (three in the pause, and any a slow machine adds)
        int data = dataCommands();
        long rounds = 1 + Duration.between(heldAt, java.time.Instant.now()).toMillis() / PROBE.toMillis();
        assertThat(data).as("DATA while held, in %d probe rounds", rounds).isBetween(1, (int) (1 + 2 + rounds));
        JsonNode mailboxes = mailboxesCheck();
        assertThat(mailboxes.path("status").asText()).isEqualTo("DOWN");
        JsonNode details = mailboxes.path("details");
        assertThat(details.path("mailbox." + Gateway.SENDER + ".state").asText()).isEqualTo("held");
        assertThat(details.path("mailbox." + Gateway.SENDER + ".reason").asText()).contains("mailbox is full");
        assertThat(details.path("mailbox." + Gateway.SENDER + ".serverReply").asText()).startsWith("554 5.2.2");
        assertThat(details.path("mailbox." + Gateway.SENDER + ".fix").asText()).contains("Sent Items");
        assertThat(details.path("mailbox." + Gateway.SENDER + ".waiting").asInt()).isEqualTo(3);

        smtp.heal();

        for (int i = 1; i <= 3; i++) {
            assertThat(gateway.awaitSent("invoice-" + i + ".json").path("status").asText()).isEqualTo("sent");
        }
        assertThat(received()).hasSize(3);
        assertThat(mailboxesCheck().path("status").asText()).isEqualTo("UP");
        assertThat(logSinceStart()).contains("Sending as " + Gateway.SENDER + " is HELD: the sending mailbox is "
                + "full", "lets one of them through as a trial", Gateway.SENDER + " sent again: the hold is lifted");
    }

    @Test
    void a_recipients_full_mailbox_at_rcpt_fails_that_message_only_and_holds_nothing() {
        TestSmtpServer smtp = mailgate.smtp();
        Gateway gateway = mailgate.gateway();
        smtp.replyToNext(Stage.RCPT_TO, 552, RECIPIENT_MAILBOX_FULL);
        gateway.drop("first.json", request("First"));

        JsonNode error = gateway.awaitFailed("first.json");
        gateway.drop("second.json", request("Second"));
        JsonNode receipt = gateway.awaitSent("second.json");

        assertThat(error.path("category").asText()).isEqualTo("permanent");
        assertThat(error.path("reason").asText()).isEqualTo("the recipient's mailbox is full");
        assertThat(error.path("serverReply").asText()).isEqualTo("552 " + RECIPIENT_MAILBOX_FULL);
        assertThat(error.path("attempts").asInt()).isEqualTo(1);
        assertThat(receipt.path("attempts").asInt()).isEqualTo(1);
        assertThat(received()).singleElement().satisfies(m -> assertThat(m.text()).contains("Second"));
        assertThat(mailboxesCheck().path("status").asText()).isEqualTo("UP");
    }

    @ParameterizedTest(name = "{0} {1} at the end of DATA: deferred as a quota, then sent")
    @CsvSource(delimiter = '|', value = {
        "550|5.2.251 Sender throttled due to continuous mailbox full errors.|make room in the sending mailbox",
        "550|5.2.252 Sender throttled due to continuous send as denied errors.|Add-RecipientPermission",
        "550|5.2.253 Sender throttled due to continuous invalid license errors.|licence",
        "550|5.2.254 Sender throttled due to continuous too many recipients errors.|mailgate.limits.max-recipients",
        "550|5.2.255 Sender throttled due to continuous invalid recipients errors.|addresses that do not exist",
    })
    void a_mailbox_throttled_after_continuous_errors_is_deferred_never_dead_lettered(int code, String text,
            String fix) {
        TestSmtpServer smtp = mailgate.smtp();
        Gateway gateway = mailgate.gateway();
        smtp.replyToNext(Stage.END_OF_DATA, code, text);
        // a name of its own: the other rows' reports are in .sent/
        String name = "report-" + text.substring(0, text.indexOf(' ')) + ".json";
        gateway.drop(name, request("Report"));

        JsonNode receipt = gateway.awaitSent(name);

        Journal.Entry entry = gateway.journal().find(receipt.path("id").asText()).orElseThrow();
        Journal.Event deferred = entry.events().stream().filter(e -> e.state() == Journal.State.RETRYING)
                .findFirst().orElseThrow();
        assertThat(deferred.detail()).startsWith("quota: Exchange Online throttles the mailbox after continuous "
                + "errors").contains(code + " " + text);
        assertThat(entry.events().stream().map(Journal.Event::state)).doesNotContain(Journal.State.FAILED);
        assertThat(new FailureClassifier().smtpReply(FailureClassifier.Stage.DATA, code, code + " " + text).advice())
                .contains(fix);
        assertThat(received()).hasSize(1);
    }

    @Test
    void a_mailbox_blocked_for_outbound_spam_is_held_with_the_defender_fix() {
        TestSmtpServer smtp = mailgate.smtp();
        Gateway gateway = mailgate.gateway();
        smtp.replyToEvery(Stage.MAIL_FROM, 550, "5.1.8 Access denied, bad outbound sender "
                + "[AM7PR02MB5862.eurprd02.prod.outlook.com]");
        gateway.drop("alert.json", request("Alert"));

        Journal.Entry held = gateway.awaitHeld(Gateway.SENDER);

        assertThat(held.failureCategory()).isEqualTo("sender-blocked");
        assertThat(held.failureReason()).contains("blocked the sending mailbox for outbound spam");
        assertThat(held.failureAdvice()).contains("Restricted entities");
        assertThat(failedSinceStart()).isEmpty();
        assertThat(dataCommands()).isZero();
    }

    private static JsonNode mailboxesCheck() {
        JsonNode health = Http.json(mailgate.http().get(MailgateExtension.API_KEY, "/api/v1/health"));
        for (JsonNode check : health.path("checks")) {
            if (check.path("id").asText().equals("mailboxes")) {
                return check;
            }
        }
        throw new AssertionError("no mailboxes check in " + health);
    }

    private static String request(String subject) {
        return "{\"to\": \"alice@example.com\", \"subject\": \"" + subject + "\", \"text\": \"" + subject
                + " body\"}";
    }
}
