package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.outcome.Journal;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Jms;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * Per-mailbox pacing against the real gateway, broker and SMTP server, with Exchange Online's limits scaled down or
 * up so that a test takes seconds: what the server sees is never faster than the limit, a backlog waits rather
 * than bouncing, one mailbox's backlog leaves another alone, and the 24-hour recipient limit defers.
 * <p>
 * Cases with the same limits share a gateway ({@link MailgateExtension}, one per nested class), each sending as
 * mailboxes of its own (Alice and Bob of the case) and counting what the server saw from the moment it began.
 */
class MailboxPacingTest {

    private static final String QUEUE = "mailgate.outbox";
    private static final AtomicInteger CASES = new AtomicInteger();

    private Gateway gateway;
    private TestSmtpServer smtp;
    private Jms jms;
    /** This case's two sending mailboxes. */
    private String alice;
    private String bob;
    private TestSmtpServer.Since since;

    private void use(MailgateExtension mailgate) {
        gateway = mailgate.gateway();
        smtp = mailgate.smtp();
        jms = Jms.inVm();
        int n = CASES.incrementAndGet();
        alice = "alice" + n + "@contoso.test";
        bob = "bob" + n + "@contoso.test";
        since = smtp.since();
    }

    @AfterEach
    void closeJms() {
        if (jms != null) {
            jms.close();
        }
    }

    /** 120 messages a minute per mailbox: one every 500 ms; every wait longer than a moment is spent on the queue. */
    @Nested
    class TwoMessagesASecond {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.limits.messages-per-minute", "120");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @Test
        void a_backlog_for_one_mailbox_reaches_the_server_no_faster_than_the_limit() {
            // the first send fetches the token: let another mailbox pay for that, so arrivals show only the pacing
            send(bob, "warm-up@example.com");
            awaitReceived(1);
            int count = 8;
            for (int i = 0; i < count; i++) {
                send(alice, "r" + i + "@example.com");
            }

            List<Instant> at = arrivals(awaitReceived(count + 1), alice);

            assertThat(at).hasSize(count);
            // measured from the second arrival: the first also opened Alice's connection (TLS, AUTH), which makes
            // it arrive later than its turn by a varying amount on a busy machine, and shortens a span measured from it
            Duration span = Duration.between(at.get(1), at.get(count - 1));
            // never above the limit: n messages need at least (n - 1) intervals (less a little network jitter) ...
            assertThat(span).isGreaterThanOrEqualTo(Duration.ofMillis((count - 2) * 500L - 150));
            // ... and the backlog is not starved either
            assertThat(Duration.between(at.get(0), at.get(count - 1)))
                    .isLessThan(Duration.ofMillis((count - 1) * 500L + 2500));
            for (int i = 2; i < count; i++) {
                assertThat(Duration.between(at.get(i - 1), at.get(i))).as("gap before message %d", i)
                        .isGreaterThan(Duration.ofMillis(250));
            }
            // pacing is not a failure: every message went out on its first attempt
            assertThat(since.dataCommands()).isEqualTo(count + 1);
        }

        @Test
        void one_mailbox_backlog_does_not_hold_up_another() {
            // Bob's connection opened first: the gap measured below is then pacing only, not connection set-up
            send(bob, "warm-up@example.com");
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> arrivals(received(), bob).size() == 1);
            int count = 8;
            for (int i = 0; i < count; i++) {
                send(alice, "r" + i + "@example.com");
            }
            send(bob, "x@example.com");
            send(bob, "y@example.com");

            Awaitility.await().atMost(Duration.ofSeconds(30))
                    .until(() -> arrivals(received(), bob).size() == 3);
            List<Instant> bobs = arrivals(received(), bob);
            int aliceMeanwhile = arrivals(received(), alice).size();

            // Bob's second message is due 500 ms after his first, however much Alice still has waiting (3.5 seconds)
            assertThat(aliceMeanwhile).as("Alice's messages sent by the time Bob's two were").isLessThan(count);
            assertThat(Duration.between(bobs.get(1), bobs.get(2))).isBetween(Duration.ofMillis(350),
                    Duration.ofMillis(2000));
            assertThat(arrivals(awaitReceived(count + 3), alice)).hasSize(count);
        }
    }

    @Nested
    class TwoConnectionsPerMailbox {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.limits.connections-per-mailbox", "2")
                .with("mailgate.jms.consumers", "5");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @AfterEach
        void fastServer() {
            smtp.slowEveryData(Duration.ZERO);
        }

        @Test
        void no_mailbox_has_more_connections_than_the_limit() {
            smtp.slowEveryData(Duration.ofMillis(400));
            for (int i = 0; i < 8; i++) {
                send(alice, "r" + i + "@example.com");
            }
            send(bob, "x@example.com");

            assertThat(awaitReceived(9)).hasSize(9);
            assertThat(smtp.mostDataAtOnce(alice)).isEqualTo(2);
            assertThat(smtp.mostDataAtOnce(bob)).isEqualTo(1);
        }
    }

    @Nested
    class ThreeRecipientsADay {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.limits.recipients-per-day", "3")
                .with("mailgate.delivery.quota-delay", "1h");

        @BeforeEach
        void useTheGateway() {
            use(MAILGATE);
        }

        @Test
        void the_24_hour_recipient_limit_defers_the_message_and_does_not_bounce_it() {
            String first = send(alice, "a@example.com", "b@example.com");
            gateway.awaitState(first, Journal.State.SENT);
            String second = send(alice, "c@example.com", "d@example.com");
            String other = send(bob, "e@example.com", "f@example.com", "g@example.com");

            Journal.Entry deferred = gateway.awaitState(second, Journal.State.RETRYING);
            gateway.awaitState(other, Journal.State.SENT);

            assertThat(deferred.failureCategory()).isEqualTo("quota");
            assertThat(deferred.failureReason()).contains(alice, "2 of its 3 recipients",
                    "mailgate.limits.recipients-per-day");
            assertThat(deferred.attempts()).as("a deferral is not a failed attempt").isZero();
            assertThat(received()).extracting(TestSmtpServer.Received::recipients)
                    .containsExactlyInAnyOrder(List.of("a@example.com", "b@example.com"),
                            List.of("e@example.com", "f@example.com", "g@example.com"));
        }
    }

    // --- helpers ----------------------------------------------------------------------------------------------

    private String send(String from, String... to) {
        String recipients = String.join("\", \"", to);
        return idOf(jms.send(QUEUE, "{\"from\": \"" + from + "\", \"to\": [\"" + recipients + "\"], "
                + "\"subject\": \"Paced\", \"text\": \"Hi\"}", Map.of()));
    }

    private static String idOf(String jmsMessageId) {
        return UUID.nameUUIDFromBytes(("jms:" + jmsMessageId).getBytes(StandardCharsets.UTF_8)).toString();
    }

    /** The messages the server accepted since this case began. */
    private List<TestSmtpServer.Received> received() {
        return since.received();
    }

    private List<TestSmtpServer.Received> awaitReceived(int count) {
        return since.awaitReceived(count);
    }

    private static List<Instant> arrivals(List<TestSmtpServer.Received> received, String mailbox) {
        return received.stream().filter(r -> mailbox.equals(r.mailbox())).map(TestSmtpServer.Received::at).sorted()
                .toList();
    }
}
