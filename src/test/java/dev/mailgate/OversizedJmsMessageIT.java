package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.util.Locale;
import java.util.Map;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;

import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.support.Gateway;
import dev.mailgate.support.Jms;
import dev.mailgate.support.PackagedGateway;

/**
 * Issue 14, item 6: a 60 MB JMS TextMessage used to exhaust the gateway's heap on receipt, and came back after every
 * restart (the delivery rolled back with the heap). The packaged jar as its own process with a 256 MB heap
 * ({@code -XX:+ExitOnOutOfMemoryError}: running out ends it instead of hiding in a log), a local program sending the
 * message over the broker's TCP acceptor with the documented client user: the send is refused naming the limit,
 * nothing is kept, the gateway stays up and sends the next request, and a restart finds nothing to deliver again.
 * Runs after {@code package} (failsafe).
 */
class OversizedJmsMessageIT {

    private static final int SIZE = 60 * 1024 * 1024;
    private static final String QUEUE = "mailgate.outbox";

    private final int brokerPort = Gateway.freePort();

    @RegisterExtension
    final PackagedGateway mailgate = PackagedGateway.realTenant().jvm("-Xmx256m", "-XX:+ExitOnOutOfMemoryError")
            .with("mailgate.broker.port", Integer.toString(brokerPort));

    @Test
    void a_60_mb_jms_text_message_is_refused_naming_the_limit_and_the_gateway_with_256_mb_keeps_sending()
            throws Exception {
        PackagedGateway.Run first = mailgate.start();
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
        assertThat(first.isAlive()).as("the gateway is still running (an OutOfMemoryError would have ended it)")
                .isTrue();
        try (Jms client = new Jms(tcp)) {
            client.send(QUEUE, "{\"to\": \"after@example.com\", \"subject\": \"Next\", \"text\": \"x\"}", Map.of());
            assertThat(mailgate.smtp().awaitReceived(1).get(0).recipients()).containsExactly("after@example.com");
            assertThat(client.browse("mailgate.dlq")).isEmpty();
        }
        assertThat(mailgate.dir().resolve("data/broker/large-messages")).as("nothing kept of the refused message")
                .isEmptyDirectory();

        // a restart finds nothing to deliver again
        mailgate.restart();
        try (Jms client = new Jms(tcp)) {
            client.send(QUEUE, "{\"to\": \"later@example.com\", \"subject\": \"Later\", \"text\": \"x\"}", Map.of());
            mailgate.smtp().awaitReceived(2);
            assertThat(client.browse(QUEUE)).isEmpty();
            assertThat(client.browse("mailgate.dlq")).isEmpty();
        }
        String secondLog = mailgate.stop();

        assertThat(mailgate.smtp().received()).extracting(r -> r.recipients().get(0))
                .containsExactly("after@example.com", "later@example.com");
        assertThat(first.logText() + secondLog).doesNotContain("OutOfMemoryError", "Java heap space", "x".repeat(100));
        System.out.printf(Locale.ROOT, "OVERSIZED-JMS size=%dMB heap=256m refusedAfter=%.1fs%n", SIZE / (1024 * 1024),
                refusedSeconds);
    }
}
