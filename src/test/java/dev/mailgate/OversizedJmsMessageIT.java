package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;

import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Jms;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Issue 14, item 6: a 60 MB JMS TextMessage used to exhaust the gateway's heap on receipt, and came back after every
 * restart (the delivery rolled back with the heap). The packaged jar as its own process with a 256 MB heap
 * ({@code -XX:+ExitOnOutOfMemoryError}: running out ends it instead of hiding in a log), a local program sending the
 * message over the broker's TCP acceptor with the documented client user: the send is refused naming the limit,
 * nothing is kept, the gateway stays up and sends the next request, and a restart finds nothing to deliver again.
 * Runs after {@code package} (failsafe).
 */
class OversizedJmsMessageIT {

    private static final Path JAR = Path.of(System.getProperty("mailgate.jar", "target/mailgate.jar"))
            .toAbsolutePath();
    private static final int SIZE = 60 * 1024 * 1024;
    private static final String QUEUE = "mailgate.outbox";

    @TempDir
    Path dir;

    private SelfSignedCertificate tls;
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Process gateway;
    private Path log;
    private final int brokerPort = Gateway.freePort();

    @BeforeEach
    void servers() {
        tls = SelfSignedCertificate.forLocalhost();
        entra = new TestEntra(tls, null);
        smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (gateway != null && gateway.isAlive()) {
            gateway.destroyForcibly();
            gateway.waitFor(30, TimeUnit.SECONDS);
        }
        smtp.close();
        entra.close();
    }

    @Test
    void a_60_mb_jms_text_message_is_refused_naming_the_limit_and_the_gateway_with_256_mb_keeps_sending()
            throws Exception {
        start("first.log");
        String tcp = "tcp://127.0.0.1:" + brokerPort;

        long sent = System.nanoTime();
        Throwable refused;
        try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(tcp, "mailgate", Jms.PASSWORD);
                Connection connection = factory.createConnection()) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            String json = "{\"to\": \"big@example.com\", \"subject\": \"Huge\", \"text\": \"" + "x".repeat(SIZE)
                    + "\"}";
            try (MessageProducer producer = session.createProducer(session.createQueue(QUEUE))) {
                refused = catchThrowable(() -> producer.send(session.createTextMessage(json)));
            }
        }
        double refusedSeconds = (System.nanoTime() - sent) / 1e9;

        assertThat(refused).isInstanceOf(JMSException.class)
                .hasMessageContaining("more than mailgate.limits.max-message-size (36700160 bytes)");
        assertThat(gateway.isAlive()).as("the gateway is still running (an OutOfMemoryError would have ended it)")
                .isTrue();
        try (Jms client = new Jms(tcp)) {
            client.send(QUEUE, "{\"to\": \"after@example.com\", \"subject\": \"Next\", \"text\": \"x\"}", Map.of());
            assertThat(smtp.awaitReceived(1).get(0).recipients()).containsExactly("after@example.com");
            assertThat(client.browse("mailgate.dlq")).isEmpty();
        }
        assertThat(dir.resolve("data/broker/large-messages")).as("nothing kept of the refused message")
                .isEmptyDirectory();
        String firstLog = stopGracefully();

        // a restart finds nothing to deliver again
        start("second.log");
        try (Jms client = new Jms(tcp)) {
            client.send(QUEUE, "{\"to\": \"later@example.com\", \"subject\": \"Later\", \"text\": \"x\"}", Map.of());
            smtp.awaitReceived(2);
            assertThat(client.browse(QUEUE)).isEmpty();
            assertThat(client.browse("mailgate.dlq")).isEmpty();
        }
        String secondLog = stopGracefully();

        assertThat(smtp.received()).extracting(r -> r.recipients().get(0))
                .containsExactly("after@example.com", "later@example.com");
        assertThat(firstLog + secondLog).doesNotContain("OutOfMemoryError", "Java heap space", "x".repeat(100));
        System.out.printf(Locale.ROOT, "OVERSIZED-JMS size=%dMB heap=256m refusedAfter=%.1fs%n", SIZE / (1024 * 1024),
                refusedSeconds);
    }

    private void start(String logName) throws Exception {
        Map<String, String> settings = Gateway.realTenant(dir, entra, smtp.port(), tls);
        settings.put("mailgate.broker.port", Integer.toString(brokerPort));
        log = dir.resolve(logName);
        ProcessBuilder builder = new ProcessBuilder(Gateway.javaBinary(), "-Xmx256m", "-XX:+ExitOnOutOfMemoryError",
                "-jar", JAR.toString()).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().keySet().removeIf(k -> k.startsWith("MAILGATE_"));
        builder.environment().putAll(Gateway.environment(settings));
        gateway = builder.start();
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.readString(log).contains("Started outbox")) {
            if (!gateway.isAlive() || System.nanoTime() > end) {
                throw new AssertionError("the gateway did not start; its log:\n" + Files.readString(log));
            }
            Thread.sleep(50);
        }
    }

    private String stopGracefully() throws Exception {
        gateway.destroy();
        assertThat(gateway.waitFor(60, TimeUnit.SECONDS)).as("stops after SIGTERM").isTrue();
        return Files.readString(log);
    }
}
