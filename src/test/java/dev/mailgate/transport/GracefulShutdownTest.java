package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * Stopping the gateway while a send is in progress: the send finishes if it can within
 * {@code mailgate.delivery.shutdown-timeout}; if not, its connection is cut and the request stays pending, and
 * nothing the server did not accept is recorded as sent.
 */
class GracefulShutdownTest {

    /** The {@code mailgate.delivery.shutdown-timeout} of the gateway a test stops. */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.METHOD)
    private @interface ShutdownTimeout {
        String value();
    }

    /** How long the server leaves the large message unread: longer than the stop takes when the send is cut. */
    private static final Duration STALL = Duration.ofSeconds(6);

    // a gateway for each test, with the test's own shutdown timeout: stopping it is what the test is about
    @RegisterExtension
    final MailgateExtension mailgate;

    GracefulShutdownTest(TestInfo test) {
        mailgate = MailgateExtension.realTenant()
                .with("mailgate.delivery.shutdown-timeout", test.getTestMethod().orElseThrow()
                        .getAnnotation(ShutdownTimeout.class).value())
                .with("mailgate.limits.max-message-size", "60MB");
    }

    @Test
    @ShutdownTimeout("10s")
    void send_in_progress_completes_before_the_gateway_stops() {
        TestSmtpServer smtp = mailgate.smtp();
        smtp.slowEveryData(Duration.ofMillis(1500));
        Gateway gateway = mailgate.gateway();
        gateway.drop("hello.json", "{\"to\": \"alice@example.com\", \"subject\": \"Finishing\", \"text\": \"x\"}");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> smtp.dataCommands() == 1);
        long stopped = System.nanoTime();

        // and after a restart nothing is sent twice
        Gateway again = mailgate.restart(dir -> {
            double stopSeconds = (System.nanoTime() - stopped) / 1e9;

            assertThat(smtp.received()).hasSize(1);
            assertThat(outbox(dir).resolve(".sent/hello.json.receipt.json")).exists();
            assertThat(outbox(dir).resolve(".queued/hello.json")).doesNotExist();
            assertThat(stopSeconds).as("waited for the send, not for the timeout").isLessThan(8.0);

            smtp.slowEveryData(Duration.ZERO);
        });
        again.drop("next.json", "{\"to\": \"alice@example.com\", \"subject\": \"Next\", \"text\": \"x\"}");
        again.awaitSent("next.json");
        assertThat(again.journal().waiting(Gateway.SENDER)).isEmpty();
        assertThat(smtp.received()).hasSize(2);
    }

    @Test
    @ShutdownTimeout("1s")
    void send_outlasting_the_shutdown_timeout_is_cut_short_stays_pending_and_goes_out_after_the_restart()
            throws Exception {
        TestSmtpServer smtp = mailgate.smtp();
        byte[] big = new byte[16 * 1024 * 1024];
        Arrays.fill(big, (byte) 'x');
        // the server takes its time reading, so the client is still writing the message when the gateway stops
        smtp.stallNextData(STALL);
        Gateway gateway = mailgate.gateway();
        gateway.attachment("big.bin", big);
        gateway.drop("big.json", """
                {"to": "alice@example.com", "subject": "Big", "text": "x", "attachments": [{"path": "big.bin"}]}
                """);
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> smtp.dataCommands() == 1);
        long stopping = System.nanoTime();

        Gateway again = mailgate.restart(dir -> {
            double stopSeconds = (System.nanoTime() - stopping) / 1e9;

            assertThat(stopSeconds).as("1 s to finish, then cut, long before the server reads on")
                    .isBetween(0.9, STALL.toSeconds() - 1.0);
            assertThat(outbox(dir).resolve(".queued/big.json")).exists();
            assertThat(outbox(dir).resolve(".sent")).doesNotExist();
            assertThat(outbox(dir).resolve(".failed")).doesNotExist();
        });

        JsonNode receipt = again.awaitSent("big.json");
        Journal.Entry entry = again.journal().find(receipt.path("id").asText()).orElseThrow();

        assertThat(entry.state()).isEqualTo(Journal.State.SENT);
        assertThat(entry.events()).extracting(Journal.Event::state).containsOnlyOnce(Journal.State.SENT);
        assertThat(entry.events()).filteredOn(e -> e.state() == Journal.State.RETRYING)
                .allSatisfy(e -> assertThat(e.detail()).contains("Mailgate stopped while sending"));
        // the half-written message never counted as received; the one sent after the restart did, whole
        assertThat(smtp.received()).hasSize(1);
        assertThat(smtp.received().get(0).data().length).isGreaterThan(big.length);
        assertThat(Files.exists(outbox(mailgate.dir()).resolve(".queued/big.json"))).isFalse();
    }

    private static Path outbox(Path dir) {
        return dir.resolve("outbox");
    }
}
