package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.outcome.Journal;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Jms;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Per-mailbox pacing against the real gateway, broker and SMTP server, with Exchange Online's limits scaled down or
 * up so that a test takes seconds: what the server sees is never faster than the limit, a backlog waits rather
 * than bouncing, one mailbox's backlog leaves another alone, and the 24-hour recipient limit defers.
 */
class MailboxPacingTest {

    private static final String QUEUE = "mailgate.outbox";
    private static final String ALICE = "alice@contoso.test";
    private static final String BOB = "bob@contoso.test";

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Gateway gateway;
    private Jms jms;

    @BeforeEach
    void servers() {
        entra = new TestEntra(tls, null);
        smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());
    }

    private void start(Map<String, String> overrides) {
        Map<String, String> p = Gateway.realTenant(dir, entra, smtp.port(), tls);
        p.putAll(overrides);
        gateway = Gateway.start(dir, p);
        jms = Jms.inVm();
    }

    @AfterEach
    void stop() {
        if (jms != null) {
            jms.close();
        }
        if (gateway != null) {
            gateway.close();
        }
        smtp.close();
        entra.close();
    }

    private String send(String from, String... to) {
        String recipients = String.join("\", \"", to);
        return idOf(jms.send(QUEUE, "{\"from\": \"" + from + "\", \"to\": [\"" + recipients + "\"], "
                + "\"subject\": \"Paced\", \"text\": \"Hi\"}", Map.of()));
    }

    private static String idOf(String jmsMessageId) {
        return UUID.nameUUIDFromBytes(("jms:" + jmsMessageId).getBytes(StandardCharsets.UTF_8)).toString();
    }

    private static List<Instant> arrivals(List<TestSmtpServer.Received> received, String mailbox) {
        return received.stream().filter(r -> mailbox.equals(r.mailbox())).map(TestSmtpServer.Received::at).sorted()
                .toList();
    }

    @Test
    void a_backlog_for_one_mailbox_reaches_the_server_no_faster_than_the_limit() {
        // 120 a minute: one every 500 ms; every wait longer than a moment is spent back on the queue
        start(Map.of("mailgate.limits.messages-per-minute", "120"));
        // the first send fetches the token: let another mailbox pay for that, so arrivals show only the pacing
        send(BOB, "warm-up@example.com");
        smtp.awaitReceived(1);
        int count = 8;
        for (int i = 0; i < count; i++) {
            send(ALICE, "r" + i + "@example.com");
        }

        List<Instant> at = arrivals(smtp.awaitReceived(count + 1), ALICE);

        assertThat(at).hasSize(count);
        Duration span = Duration.between(at.get(0), at.get(count - 1));
        // never above the limit: n messages need at least (n - 1) intervals (less a little network jitter) ...
        assertThat(span).isGreaterThanOrEqualTo(Duration.ofMillis((count - 1) * 500L - 150));
        // ... and the backlog is not starved either
        assertThat(span).isLessThan(Duration.ofMillis((count - 1) * 500L + 2500));
        for (int i = 1; i < count; i++) {
            assertThat(Duration.between(at.get(i - 1), at.get(i))).as("gap before message %d", i)
                    .isGreaterThan(Duration.ofMillis(250));
        }
        // pacing is not a failure: every message went out on its first attempt
        assertThat(smtp.dataCommands()).isEqualTo(count + 1);
    }

    @Test
    void one_mailbox_backlog_does_not_hold_up_another() {
        start(Map.of("mailgate.limits.messages-per-minute", "60"));
        for (int i = 0; i < 6; i++) {
            send(ALICE, "r" + i + "@example.com");
        }
        send(BOB, "x@example.com");
        send(BOB, "y@example.com");

        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> arrivals(smtp.received(), BOB).size() == 2);
        List<Instant> bob = arrivals(smtp.received(), BOB);
        int aliceMeanwhile = arrivals(smtp.received(), ALICE).size();

        // Bob's second message is due a second after his first, however much Alice still has waiting (6 seconds)
        assertThat(aliceMeanwhile).as("Alice's messages sent by the time Bob's two were").isLessThan(6);
        assertThat(Duration.between(bob.get(0), bob.get(1))).isBetween(Duration.ofMillis(850),
                Duration.ofMillis(2500));
        assertThat(arrivals(smtp.awaitReceived(8), ALICE)).hasSize(6);
    }

    @Test
    void no_mailbox_has_more_connections_than_the_limit() {
        start(Map.of("mailgate.limits.connections-per-mailbox", "2", "mailgate.jms.consumers", "5"));
        smtp.slowEveryData(Duration.ofMillis(400));
        for (int i = 0; i < 8; i++) {
            send(ALICE, "r" + i + "@example.com");
        }
        send(BOB, "x@example.com");

        assertThat(smtp.awaitReceived(9)).hasSize(9);
        assertThat(smtp.mostDataAtOnce(ALICE)).isEqualTo(2);
        assertThat(smtp.mostDataAtOnce(BOB)).isEqualTo(1);
    }

    @Test
    void the_24_hour_recipient_limit_defers_the_message_and_does_not_bounce_it() {
        start(Map.of("mailgate.limits.recipients-per-day", "3", "mailgate.delivery.quota-delay", "1h"));
        String first = send(ALICE, "a@example.com", "b@example.com");
        gateway.awaitState(first, Journal.State.SENT);
        String second = send(ALICE, "c@example.com", "d@example.com");
        String other = send(BOB, "e@example.com", "f@example.com", "g@example.com");

        Journal.Entry deferred = gateway.awaitState(second, Journal.State.RETRYING);
        gateway.awaitState(other, Journal.State.SENT);

        assertThat(deferred.failureCategory()).isEqualTo("quota");
        assertThat(deferred.failureReason()).contains(ALICE, "2 of its 3 recipients",
                "mailgate.limits.recipients-per-day");
        assertThat(deferred.attempts()).as("a deferral is not a failed attempt").isZero();
        assertThat(smtp.received()).extracting(TestSmtpServer.Received::recipients)
                .containsExactlyInAnyOrder(List.of("a@example.com", "b@example.com"),
                        List.of("e@example.com", "f@example.com", "g@example.com"));
    }
}
