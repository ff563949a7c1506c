package dev.mailgate.channel.jms;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;
import jakarta.mail.internet.MimeMessage;

import org.apache.activemq.artemis.api.core.QueueConfiguration;
import org.apache.activemq.artemis.api.core.RoutingType;
import org.apache.activemq.artemis.core.config.impl.ConfigurationImpl;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.outcome.Journal;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Jms;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * The JMS channel against the real embedded Artemis broker and a real SMTP server: delivery and acknowledgement,
 * dead letters with their reason, smuggled properties, idempotency, and messages that survive a restart.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class JmsChannelTest {

    private static final String QUEUE = "mailgate.outbox";
    private static final String DLQ = "mailgate.dlq";
    private static final String HELLO = "{\"to\": \"alice@example.com\", \"subject\": \"Hello\", \"text\": \"Hi\"}";

    // one gateway for the class, restarted only where a restart is what is tested: each test starts with empty queues
    // (beforeEach takes the dead letters earlier tests left) and looks only at what the server saw since it began.
    // Requests are limited to 1 MB, as the size-limit tests need; every other request is far smaller
    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.limits.max-message-size", "1MB");

    private Jms jms;
    private TestSmtpServer.Since since;

    @BeforeEach
    void start() throws JMSException {
        jms = Jms.inVm();
        if (!jms.browse(DLQ).isEmpty()) {
            takeTheDeadLetters();
        }
        since = smtp().since();
    }

    @AfterEach
    void stop() {
        if (jms != null) {
            jms.close();
        }
    }

    /** The operator takes every dead letter: a test's dead letters are then its own. */
    private static void takeTheDeadLetters() throws JMSException {
        try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("vm://0", "mailgate-operator",
                Jms.OPERATOR_PASSWORD); Connection connection = factory.createConnection()) {
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (MessageConsumer consumer = session.createConsumer(session.createQueue(DLQ))) {
                while (consumer.receive(200) != null) {
                    // taken
                }
            }
        }
    }

    private static Gateway gateway() {
        return mailgate.gateway();
    }

    private static TestSmtpServer smtp() {
        return mailgate.smtp();
    }

    private static Path dir() {
        return mailgate.dir();
    }

    /** What the server received since this test began. */
    private List<TestSmtpServer.Received> received() {
        return since.received();
    }

    /** Waits until the server received {@code count} messages since this test began, and returns them. */
    private List<TestSmtpServer.Received> awaitReceived(int count) {
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> received().size() >= count);
        return received();
    }

    /** The delivery id the JMS channel gives a message from another application. */
    private static String idOf(String jmsMessageId) {
        return UUID.nameUUIDFromBytes(("jms:" + jmsMessageId).getBytes(StandardCharsets.UTF_8)).toString();
    }

    @Test
    void request_from_the_queue_is_delivered_journaled_and_acknowledged() {
        String jmsId = jms.send(QUEUE, HELLO, Map.of());

        Journal.Entry entry = gateway().awaitState(idOf(jmsId), Journal.State.SENT);

        assertThat(awaitReceived(1).get(0).recipients()).containsExactly("alice@example.com");
        assertThat(entry.channel()).isEqualTo("jms");
        assertThat(entry.sender()).isEqualTo(Gateway.SENDER);
        assertThat(entry.recipients()).isEqualTo(1);
        assertThat(entry.serverReply()).startsWith("250 2.0.0 OK");
        assertThat(entry.messageId()).isEqualTo("<" + idOf(jmsId) + "@contoso.test>");
        assertThat(entry.events()).extracting(Journal.Event::state)
                .containsExactly(Journal.State.RECEIVED, Journal.State.SENDING, Journal.State.SENT);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> jms.browse(QUEUE).isEmpty());
        assertThat(jms.browse(DLQ)).isEmpty();
    }

    @Test
    void poison_message_is_dead_lettered_at_once_with_its_reason_and_the_next_one_is_delivered() throws Exception {
        String poison = jms.send(QUEUE, "this is not JSON", Map.of());
        String good = jms.send(QUEUE, HELLO, Map.of());

        gateway().awaitState(idOf(good), Journal.State.SENT);
        Journal.Entry failed = gateway().awaitState(idOf(poison), Journal.State.FAILED);

        // the dead letter is committed with the consumed message, after the journal has the failure
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !jms.browse(DLQ).isEmpty());
        List<Message> dead = jms.browse(DLQ);
        assertThat(dead).hasSize(1);
        Message letter = dead.get(0);
        assertThat(((TextMessage) letter).getText()).isEqualTo("this is not JSON");
        assertThat(letter.getStringProperty("mailgateCategory")).isEqualTo("invalid-request");
        assertThat(letter.getStringProperty("mailgateReason")).contains("is not valid JSON");
        assertThat(letter.getStringProperty("mailgateFix")).contains("correct the fields");
        assertThat(letter.getStringProperty("mailgateId")).isEqualTo(idOf(poison));
        assertThat(failed.failureCategory()).isEqualTo("invalid-request");
        assertThat(failed.attempts()).isEqualTo(1);
        assertThat(received()).hasSize(1);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> jms.browse(QUEUE).isEmpty());
    }

    @Test
    void refused_recipient_is_dead_lettered_with_the_server_reply() throws Exception {
        String jmsId = jms.send(QUEUE, "{\"to\": \"nobody@contoso.test\", \"subject\": \"x\", \"text\": \"y\"}",
                Map.of());

        Journal.Entry failed = gateway().awaitState(idOf(jmsId), Journal.State.FAILED);

        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> jms.browse(DLQ).size() == 1);
        Message letter = jms.browse(DLQ).get(0);
        assertThat(letter.getStringProperty("mailgateCategory")).isEqualTo("permanent");
        assertThat(letter.getStringProperty("mailgateServerReply")).startsWith("550 5.1.1");
        assertThat(failed.serverReply()).startsWith("550 5.1.1");
        assertThat(failed.events()).extracting(Journal.Event::state)
                .containsExactly(Journal.State.RECEIVED, Journal.State.SENDING, Journal.State.FAILED);
    }

    @Test
    void transient_failures_are_journaled_as_retrying_before_the_mail_goes_out() {
        smtp().replyToNextData(451, "4.7.500 Server busy. Please try again later.");
        String jmsId = jms.send(QUEUE, HELLO, Map.of());

        Journal.Entry sent = gateway().awaitState(idOf(jmsId), Journal.State.SENT);

        assertThat(sent.attempts()).isEqualTo(2);
        assertThat(sent.events()).extracting(Journal.Event::state).containsExactly(Journal.State.RECEIVED,
                Journal.State.SENDING, Journal.State.RETRYING, Journal.State.SENDING, Journal.State.SENT);
        assertThat(sent.events().get(2).detail()).contains("transient", "451 4.7.500");
    }

    @Test
    @Order(1) // first, while the gateway holds no SMTP connection: its one mail opens one and authenticates once
    void smuggled_jms_properties_reach_neither_the_mail_nor_the_smtp_session_nor_camel() throws Exception {
        String jmsId = jms.send(QUEUE, HELLO, Map.of(
                "To", "attacker@evil.test",
                "Bcc", "attacker@evil.test",
                "From", "ceo@contoso.test",
                "Subject", "Wire the money",
                "CamelFileName", "../../etc/passwd",
                "CamelHttpUri", "http://evil.test/",
                // how a JMS property named mail.smtp.host looks on the wire: Camel decodes _DOT_ back into dots
                "mail_DOT_smtp_DOT_host", "evil.test",
                "mail_DOT_smtp_DOT_starttls_DOT_enable", "false"));

        gateway().awaitState(idOf(jmsId), Journal.State.SENT);

        TestSmtpServer.Received received = awaitReceived(1).get(0);
        MimeMessage mail = received.message();
        assertThat(received.recipients()).containsExactly("alice@example.com");
        assertThat(received.mailFrom()).isEqualTo(Gateway.SENDER);
        assertThat(mail.getSubject()).isEqualTo("Hello");
        assertThat(received.text()).doesNotContain("evil.test", "ceo@contoso.test", "Wire the money",
                "CamelFileName", "passwd", "JMS");
        assertThat(since.sasl()).hasSize(1);
    }

    @Test
    void repeated_idempotency_key_is_sent_once() {
        String request = "{\"to\": \"alice@example.com\", \"subject\": \"Once\", \"text\": \"x\", "
                + "\"idempotencyKey\": \"order-4711\"}";
        String first = jms.send(QUEUE, request, Map.of());
        String second = jms.send(QUEUE, request, Map.of());

        // several consumers: either copy may claim the key first; the other is the repeat
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> jms.browse(QUEUE).isEmpty()
                && Stream.of(first, second).anyMatch(id -> gateway().journal().find(idOf(id))
                        .map(e -> e.state() == Journal.State.SENT).orElse(false)));

        assertThat(received()).hasSize(1);
        assertThat(Stream.of(first, second).filter(id -> gateway().journal().find(idOf(id)).isPresent())).hasSize(1);
        assertThat(jms.browse(DLQ)).isEmpty();
    }

    @Test
    void messages_queued_while_nothing_consumes_are_delivered_after_a_broker_restart() throws Exception {
        gateway().context().getRouteController().stopRoute("jms");
        List<String> ids = IntStream.range(0, 5).mapToObj(i -> jms.send(QUEUE,
                "{\"to\": \"r" + i + "@example.com\", \"subject\": \"Queued " + i + "\", \"text\": \"x\"}", Map.of()))
                .toList();
        assertThat(jms.browse(QUEUE)).hasSize(5);
        jms.close();
        mailgate.restart();
        jms = Jms.inVm();

        ids.forEach(id -> gateway().awaitState(idOf(id), Journal.State.SENT));
        assertThat(received()).extracting(r -> r.recipients().get(0)).containsExactlyInAnyOrder(
                "r0@example.com", "r1@example.com", "r2@example.com", "r3@example.com", "r4@example.com");
    }

    @Test
    void an_external_broker_is_configuration_only() throws Exception {
        // a plain Artemis broker stands in for an external one: it only hosts the queue, with users of its own
        // (a Mailgate's embedded broker would not do: only the gateway's own in-VM user may consume there)
        int port = Gateway.freePort();
        EmbeddedActiveMQ external = new EmbeddedActiveMQ().setConfiguration(new ConfigurationImpl()
                .setName("external").setPersistenceEnabled(false).setSecurityEnabled(false)
                .setJMXManagementEnabled(false)
                .addAcceptorConfiguration("tcp", "tcp://127.0.0.1:" + port + "?protocols=CORE")
                .addQueueConfiguration(QueueConfiguration.of(QUEUE).setRoutingType(RoutingType.ANYCAST))
                .addQueueConfiguration(QueueConfiguration.of(DLQ).setRoutingType(RoutingType.ANYCAST)))
                .setMbeanServer(javax.management.MBeanServerFactory.newMBeanServer());
        external.start();
        // a gateway of its own (the class's gateway stays as it is, and idle), sending through the same servers
        try {
            Path clientDir = Files.createDirectories(dir().resolve("client"));
            Map<String, String> client = Gateway.realTenant(clientDir, mailgate.entra(), smtp().port(),
                    MailgateExtension.tls());
            client.put("mailgate.jms.url", "tcp://127.0.0.1:" + port);
            client.put("mailgate.jms.user", "gateway");
            client.put("mailgate.jms.password", "gateway-password");
            try (Gateway gateway = Gateway.start(clientDir, client);
                    Jms application = new Jms("tcp://127.0.0.1:" + port)) {
                String jmsId = application.send(QUEUE, HELLO, Map.of());

                gateway.awaitState(idOf(jmsId), Journal.State.SENT);
                assertThat(received()).hasSize(1);
                assertThat(clientDir.resolve("data/broker")).as("no embedded broker in the client").doesNotExist();
            }
        } finally {
            external.stop();
        }
    }

    /** A request of about {@code bytes} bytes: valid JSON, a long text. */
    private static String requestOf(int bytes) {
        return "{\"to\": \"alice@example.com\", \"subject\": \"Big\", \"text\": \"" + "x".repeat(bytes) + "\"}";
    }

    /** The large-message files in the broker's journal. */
    private static List<String> largeMessages() {
        try (Stream<Path> files = Files.list(dir().resolve("data/broker/large-messages"))) {
            return files.map(f -> f.getFileName().toString()).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void a_request_larger_than_the_message_size_limit_is_refused_when_sent_and_nothing_is_kept() throws Exception {
        // the class's gateway runs with a 1 MB limit; an earlier test's dead letter may still hold a large message
        List<String> largeBefore = largeMessages();

        Throwable refused = org.assertj.core.api.Assertions.catchThrowable(() -> jms.send(QUEUE,
                requestOf(2 * 1024 * 1024), Map.of()));

        // the producer's send fails, with the limit named (Jms wraps the JMSException)
        assertThat(refused.getCause()).isInstanceOf(jakarta.jms.JMSException.class)
                .hasMessageContaining("mailgate.limits.max-message-size (1048576 bytes)");
        String small = jms.send(QUEUE, HELLO, Map.of());
        gateway().awaitState(idOf(small), Journal.State.SENT);
        assertThat(jms.browse(QUEUE)).isEmpty();
        assertThat(jms.browse(DLQ)).isEmpty();
        assertThat(dir().resolve("data/broker/large-messages")).isDirectory();
        assertThat(largeMessages()).as("large messages kept").isSubsetOf(largeBefore);
    }

    @Test
    void an_oversized_message_already_on_the_queue_is_dead_lettered_unread_at_start() throws Exception {
        // on the queue before the limit was checked: put there through the gateway's broker class with a higher limit
        gateway().context().getRouteController().stopRoute("jms");
        jms.close();
        String[] big = new String[1];
        // while the gateway is stopped; it starts again with its 1 MB limit
        mailgate.restart(dir -> {
            dev.mailgate.config.Settings read = dev.mailgate.config.Settings.read(k -> java.util.Optional.ofNullable(
                    mailgate.properties().get(k)));
            EmbeddedBroker old = new EmbeddedBroker(read.broker(), read.jms(), Jms.PASSWORD, 100L * 1024 * 1024);
            old.start();
            try (Jms client = Jms.inVm()) {
                big[0] = client.send(QUEUE, requestOf(2 * 1024 * 1024), Map.of());
            } finally {
                old.stop();
            }
        });
        jms = Jms.inVm();
        String small = jms.send(QUEUE, HELLO, Map.of());

        gateway().awaitState(idOf(small), Journal.State.SENT);
        List<Message> dead = jms.browse(DLQ);
        assertThat(dead).singleElement().satisfies(letter -> {
            assertThat(letter.getJMSMessageID()).isNotNull();
            assertThat(letter.getStringProperty("mailgateCategory")).isEqualTo("invalid-request");
            assertThat(letter.getStringProperty("mailgateReason"))
                    .contains("mailgate.limits.max-message-size (1048576 bytes)");
        });
        assertThat(gateway().journal().find(idOf(big[0]))).as("never received").isEmpty();
        assertThat(received()).hasSize(1);
        assertThat(jms.browse(QUEUE)).isEmpty();
    }

    @Test
    void a_jms_reply_to_does_not_make_the_mail_go_out_again() throws Exception {
        jakarta.jms.TextMessage message = jms.session().createTextMessage(HELLO);
        message.setJMSReplyTo(jms.session().createQueue("replies"));
        String jmsId = jms.send(QUEUE, message);

        gateway().awaitState(idOf(jmsId), Journal.State.SENT);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> jms.browse(QUEUE).isEmpty());
        Thread.sleep(1500);

        assertThat(received()).hasSize(1);
        assertThat(jms.browse(DLQ)).isEmpty();
    }

    @Test
    void a_spoofed_mailgate_id_neither_borrows_an_id_nor_skips_the_idempotency_check() throws Exception {
        String request = "{\"to\": \"alice@example.com\", \"subject\": \"x\", \"text\": \"y\", "
                + "\"idempotencyKey\": \"spoof-1\"}";
        String spoofed = UUID.randomUUID().toString();
        String first = jms.send(QUEUE, request, Map.of("mailgateId", spoofed));
        String second = jms.send(QUEUE, request, Map.of("mailgateId", spoofed));

        // two consumers may take them at once: whichever is admitted first is sent, the other is its repeat
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> jms.browse(QUEUE).isEmpty()
                && Stream.of(first, second).anyMatch(m -> gateway().journal().find(idOf(m))
                        .filter(e -> e.state() == Journal.State.SENT).isPresent()));
        // a browser does not see the message a consumer holds: give the repeat time to go out, were it to
        Thread.sleep(1500);

        List<Journal.Entry> entries = Stream.of(first, second).flatMap(m -> gateway().journal().find(idOf(m)).stream())
                .toList();
        assertThat(entries).singleElement().satisfies(e -> {
            assertThat(e.channel()).isEqualTo("jms");
            assertThat(e.state()).isEqualTo(Journal.State.SENT);
        });
        assertThat(gateway().journal().find(spoofed)).isEmpty();
        assertThat(received()).hasSize(1);
    }

    @Test
    void messages_without_a_jms_message_id_are_separate_deliveries() throws Exception {
        try (jakarta.jms.MessageProducer producer = jms.session().createProducer(jms.session().createQueue(QUEUE))) {
            producer.setDisableMessageID(true);
            producer.send(jms.session().createTextMessage("{\"to\": \"one@example.com\", \"text\": \"1\"}"));
            producer.send(jms.session().createTextMessage("{\"to\": \"two@example.com\", \"text\": \"2\"}"));
        }

        awaitReceived(2);

        assertThat(received()).extracting(r -> r.recipients().get(0))
                .containsExactlyInAnyOrder("one@example.com", "two@example.com");
    }
}
