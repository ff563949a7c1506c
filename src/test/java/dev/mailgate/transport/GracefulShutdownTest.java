package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;

import org.awaitility.Awaitility;
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
 * Stopping the gateway while a send is in progress: the send finishes if it can within
 * {@code mailgate.delivery.shutdown-timeout}; if not, its connection is cut and the request stays pending, and
 * nothing the server did not accept is recorded as sent.
 */
class GracefulShutdownTest {

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Map<String, String> properties;

    @BeforeEach
    void servers() {
        entra = new TestEntra(tls, null);
        smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());
        properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
    }

    @AfterEach
    void stop() {
        smtp.close();
        entra.close();
    }

    @Test
    void send_in_progress_completes_before_the_gateway_stops() {
        properties.put("mailgate.delivery.shutdown-timeout", "10s");
        smtp.slowEveryData(Duration.ofMillis(1500));
        long stopped;
        try (Gateway gateway = Gateway.start(dir, properties)) {
            gateway.drop("hello.json", "{\"to\": \"alice@example.com\", \"subject\": \"Finishing\", \"text\": \"x\"}");
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> smtp.dataCommands() == 1);
            stopped = System.nanoTime();
        }
        double stopSeconds = (System.nanoTime() - stopped) / 1e9;

        assertThat(smtp.received()).hasSize(1);
        assertThat(gateway(dir).resolve(".sent/hello.json.receipt.json")).exists();
        assertThat(gateway(dir).resolve(".queued/hello.json")).doesNotExist();
        assertThat(stopSeconds).as("waited for the send, not for the timeout").isLessThan(8.0);

        // and after a restart nothing is sent twice
        smtp.slowEveryData(Duration.ZERO);
        try (Gateway again = Gateway.start(dir, properties)) {
            again.drop("next.json", "{\"to\": \"alice@example.com\", \"subject\": \"Next\", \"text\": \"x\"}");
            again.awaitSent("next.json");
            assertThat(again.journal().waiting(Gateway.SENDER)).isEmpty();
        }
        assertThat(smtp.received()).hasSize(2);
    }

    @Test
    void send_outlasting_the_shutdown_timeout_is_cut_short_stays_pending_and_goes_out_after_the_restart()
            throws Exception {
        properties.put("mailgate.delivery.shutdown-timeout", "1s");
        properties.put("mailgate.limits.max-message-size", "60MB");
        byte[] big = new byte[16 * 1024 * 1024];
        Arrays.fill(big, (byte) 'x');
        // the server takes its time reading, so the client is still writing the message when the gateway stops
        smtp.stallNextData(Duration.ofSeconds(8));
        double stopSeconds;
        try (Gateway gateway = Gateway.start(dir, properties)) {
            gateway.attachment("big.bin", big);
            gateway.drop("big.json", """
                    {"to": "alice@example.com", "subject": "Big", "text": "x", "attachments": [{"path": "big.bin"}]}
                    """);
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> smtp.dataCommands() == 1);
            long stopping = System.nanoTime();
            gateway.close();
            stopSeconds = (System.nanoTime() - stopping) / 1e9;
        }

        assertThat(stopSeconds).as("1 s to finish, then cut").isBetween(0.9, 8.0);
        assertThat(gateway(dir).resolve(".queued/big.json")).exists();
        assertThat(gateway(dir).resolve(".sent")).doesNotExist();
        assertThat(gateway(dir).resolve(".failed")).doesNotExist();

        try (Gateway again = Gateway.start(dir, properties)) {
            JsonNode receipt = again.awaitSent("big.json");
            Journal.Entry entry = again.journal().find(receipt.path("id").asText()).orElseThrow();

            assertThat(entry.state()).isEqualTo(Journal.State.SENT);
            assertThat(entry.events()).extracting(Journal.Event::state).containsOnlyOnce(Journal.State.SENT);
            assertThat(entry.events()).filteredOn(e -> e.state() == Journal.State.RETRYING)
                    .allSatisfy(e -> assertThat(e.detail()).contains("Mailgate stopped while sending"));
        }
        // the half-written message never counted as received; the one sent after the restart did, whole
        assertThat(smtp.received()).hasSize(1);
        assertThat(smtp.received().get(0).data().length).isGreaterThan(big.length);
        assertThat(Files.exists(gateway(dir).resolve(".queued/big.json"))).isFalse();
    }

    private static Path gateway(Path dir) {
        return dir.resolve("outbox");
    }
}
