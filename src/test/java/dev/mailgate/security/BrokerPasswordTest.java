package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import jakarta.jms.Connection;
import jakarta.jms.JMSException;
import jakarta.jms.JMSSecurityException;
import jakarta.jms.Message;
import jakarta.jms.MessageConsumer;
import jakarta.jms.MessageProducer;
import jakarta.jms.QueueBrowser;
import jakarta.jms.Session;
import jakarta.jms.TextMessage;

import jakarta.mail.Multipart;

import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.channel.outbox.OutboxFiles;
import dev.mailgate.outcome.Journal;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.Jms;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * Issue 14, item 5: what a program holding the broker password (user {@code mailgate}, {@code data/broker-password})
 * can do over the embedded broker's TCP acceptor, as any local client would connect. It may put requests on the
 * queue, and nothing else: not take or read other channels' mail, not create queues, not touch the dead-letter
 * queue, not call the broker's management; and the properties Mailgate puts on its own messages mean nothing on a
 * message the client sent.
 */
class BrokerPasswordTest {

    private static final String QUEUE = "mailgate.outbox";
    private static final String DLQ = "mailgate.dlq";
    private static final int BROKER_PORT = Gateway.freePort();

    // one gateway for the class: each test starts with no dead letter on the broker (beforeEach) and looks only at
    // what the server received since it began
    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.broker.port", Integer.toString(BROKER_PORT));

    private TestSmtpServer.Since since;

    @BeforeEach
    void noDeadLetterAndNoteWhatCameBefore() throws JMSException {
        // the operator takes the dead letters earlier tests left, so that a test's first dead letter is its own
        try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + BROKER_PORT,
                "mailgate-operator", Jms.OPERATOR_PASSWORD); Connection connection = factory.createConnection()) {
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (QueueBrowser browser = session.createBrowser(session.createQueue(DLQ))) {
                if (browser.getEnumeration().hasMoreElements()) {
                    try (MessageConsumer consumer = session.createConsumer(session.createQueue(DLQ))) {
                        while (consumer.receive(200) != null) {
                            // taken
                        }
                    }
                }
            }
        }
        since = mailgate.smtp().since();
    }

    @AfterEach
    void consumingAgain() throws Exception {
        // a test that stopped the gateway's consumer and failed before starting it again leaves it stopped
        mailgate.gateway().context().getRouteController().startRoute("jms");
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

    /** A local program with the broker password, over TCP. */
    private ActiveMQConnectionFactory client() {
        return new ActiveMQConnectionFactory("tcp://127.0.0.1:" + BROKER_PORT, "mailgate", Jms.PASSWORD);
    }

    private interface SessionWork {
        void run(Session session) throws JMSException;
    }

    /** What {@code work} throws on a fresh session of the client (a refusal may close the session it happened on). */
    private Throwable attempt(SessionWork work) throws JMSException {
        try (ActiveMQConnectionFactory factory = client(); Connection connection = factory.createConnection()) {
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            return catchThrowable(() -> work.run(session));
        }
    }

    private String send(String queue, String body, Map<String, String> properties) throws JMSException {
        try (ActiveMQConnectionFactory factory = client(); Connection connection = factory.createConnection()) {
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (MessageProducer producer = session.createProducer(session.createQueue(queue))) {
                TextMessage message = session.createTextMessage(body);
                for (var p : properties.entrySet()) {
                    message.setStringProperty(p.getKey(), p.getValue());
                }
                producer.send(message);
                return message.getJMSMessageID();
            }
        }
    }

    private static String idOf(String jmsMessageId) {
        return UUID.nameUUIDFromBytes(("jms:" + jmsMessageId).getBytes(StandardCharsets.UTF_8)).toString();
    }

    @Test
    void the_broker_password_can_neither_take_nor_read_queued_mail_nor_create_queues_nor_reach_the_dead_letters()
            throws Exception {
        Http http = mailgate.http();
        // the gateway's own consumer is stopped, so that there is mail waiting on the queue to be stolen
        mailgate.gateway().context().getRouteController().stopRoute("jms");
        for (int i = 0; i < 3; i++) {
            assertThat(http.postJson(MailgateExtension.API_KEY, "{\"to\": \"payroll" + i + "@example.com\", "
                    + "\"subject\": \"Salaries\", \"text\": \"confidential\"}").statusCode()).isEqualTo(202);
        }

        Throwable consume = attempt(s -> {
            try (MessageConsumer consumer = s.createConsumer(s.createQueue(QUEUE))) {
                consumer.receive(2000);
            }
        });
        Throwable browse = attempt(s -> {
            try (QueueBrowser browser = s.createBrowser(s.createQueue(QUEUE))) {
                Collections.list(browser.getEnumeration());
            }
        });
        Throwable readDeadLetters = attempt(s -> {
            try (MessageConsumer consumer = s.createConsumer(s.createQueue(DLQ))) {
                consumer.receive(500);
            }
        });
        Throwable browseDeadLetters = attempt(s -> {
            try (QueueBrowser browser = s.createBrowser(s.createQueue(DLQ))) {
                Collections.list(browser.getEnumeration());
            }
        });
        Throwable writeDeadLetters = attempt(s -> {
            try (MessageProducer producer = s.createProducer(s.createQueue(DLQ))) {
                producer.send(s.createTextMessage("{\"to\": \"x@example.com\", \"text\": \"fake dead letter\"}"));
            }
        });
        Throwable temporaryQueue = attempt(Session::createTemporaryQueue);
        Throwable newQueue = attempt(s -> {
            try (MessageProducer producer = s.createProducer(s.createQueue("mailgate.copies"))) {
                producer.send(s.createTextMessage("x"));
            }
        });
        Throwable management = attempt(s -> {
            try (MessageProducer producer = s.createProducer(s.createQueue("activemq.management"))) {
                producer.send(s.createTextMessage("x"));
            }
        });

        Map<String, Throwable> attempts = new java.util.LinkedHashMap<>();
        attempts.put("consume the queue", consume);
        attempts.put("browse the queue", browse);
        attempts.put("consume the dead letters", readDeadLetters);
        attempts.put("browse the dead letters", browseDeadLetters);
        attempts.put("send to the dead-letter queue", writeDeadLetters);
        attempts.put("create a temporary queue", temporaryQueue);
        attempts.put("create a queue by sending to it", newQueue);
        attempts.put("send to the management address", management);
        attempts.forEach((what, refused) -> assertThat(refused).as(what + " is refused to the producer-only user")
                .isInstanceOf(JMSSecurityException.class));
        // the mail that waited is all still there, and goes out once the gateway consumes again
        mailgate.gateway().context().getRouteController().startRoute("jms");
        List<TestSmtpServer.Received> received = awaitReceived(3);
        assertThat(received).extracting(r -> r.recipients().get(0)).containsExactlyInAnyOrder(
                "payroll0@example.com", "payroll1@example.com", "payroll2@example.com");
    }

    @Test
    void the_opt_in_operator_reads_and_takes_dead_letters_but_cannot_take_queued_mail() throws Exception {
        String poison = send(QUEUE, "not a mail request", Map.of());
        mailgate.gateway().awaitState(idOf(poison), Journal.State.FAILED);

        try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + BROKER_PORT,
                "mailgate-operator", Jms.OPERATOR_PASSWORD); Connection connection = factory.createConnection()) {
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            assertThat(catchThrowable(() -> session.createConsumer(session.createQueue(QUEUE))))
                    .as("the operator may not take queued mail").isInstanceOf(JMSSecurityException.class);
            Session dead = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            try (MessageConsumer consumer = dead.createConsumer(dead.createQueue(DLQ))) {
                TextMessage letter = (TextMessage) consumer.receive(10_000);
                assertThat(letter.getText()).isEqualTo("not a mail request");
                assertThat(letter.getStringProperty("mailgateCategory")).isEqualTo("invalid-request");
            }
        }
    }

    @Test
    void the_broker_password_still_puts_requests_on_the_queue_and_they_are_delivered() throws Exception {
        String jmsId = send(QUEUE, "{\"to\": \"alice@example.com\", \"subject\": \"Nightly export\", "
                + "\"text\": \"Done.\"}", Map.of());

        Journal.Entry sent = mailgate.gateway().awaitState(idOf(jmsId), Journal.State.SENT);

        assertThat(sent.channel()).isEqualTo("jms");
        assertThat(awaitReceived(1).get(0).recipients()).containsExactly("alice@example.com");
    }

    @Test
    void a_small_request_posing_as_an_oversized_large_message_is_refused_when_sent_not_left_unread() throws Exception {
        // the consumer's selector trusts the broker's large-message size; set by a client on an ordinary message it
        // made the request look too large to receive, and it waited unread on the queue until a restart
        Throwable refused = attempt(session -> {
            try (MessageProducer producer = session.createProducer(session.createQueue(QUEUE))) {
                TextMessage message = session.createTextMessage("{\"to\": \"alice@example.com\", \"subject\": "
                        + "\"posing\", \"text\": \"small\"}");
                message.setLongProperty("_AMQ_LARGE_SIZE", 1_000_000_000L);
                producer.send(message);
            }
        });

        assertThat(refused).isInstanceOf(JMSException.class).hasMessageContaining("_AMQ_LARGE_SIZE")
                .hasMessageContaining("only the broker sets");

        // the same with the compressed flag, which the selector reads as well (a string "true" slipped past the check)
        Throwable compressed = attempt(session -> {
            try (MessageProducer producer = session.createProducer(session.createQueue(QUEUE))) {
                TextMessage message = session.createTextMessage("{\"to\": \"alice@example.com\", \"subject\": "
                        + "\"posing\", \"text\": \"small\"}");
                message.setStringProperty("_AMQ_LARGE_COMPRESSED", "true");
                producer.send(message);
            }
        });
        assertThat(compressed).isInstanceOf(JMSException.class).hasMessageContaining("_AMQ_LARGE_COMPRESSED")
                .hasMessageContaining("only the broker sets");
    }

    @Test
    void a_foreign_message_with_the_victims_mailgate_id_does_not_mark_the_victims_request_sent() throws Exception {
        mailgate.gateway().context().getRouteController().stopRoute("jms");
        var accepted = mailgate.http().postJson(MailgateExtension.API_KEY, "{\"to\": \"victim@example.com\", "
                + "\"subject\": \"Contract\", \"text\": \"the real one\"}");
        String victim = Http.json(accepted).path("id").asText();
        // the attacker learnt the id (a log, a receipt, a status page) and sends a message that claims it
        String foreign = send(QUEUE, "{\"to\": \"attacker@example.com\", \"subject\": \"Forged\", \"text\": \"x\"}",
                Map.of("mailgateId", victim, "mailgatePacedSlot", "0", "mailgateCountingSince", "0"));

        mailgate.gateway().context().getRouteController().startRoute("jms");

        List<TestSmtpServer.Received> received = awaitReceived(2);
        assertThat(received).extracting(r -> r.recipients().get(0))
                .containsExactlyInAnyOrder("victim@example.com", "attacker@example.com");
        TestSmtpServer.Received toVictim = received.stream()
                .filter(r -> r.recipients().get(0).equals("victim@example.com")).findFirst().orElseThrow();
        assertThat(toVictim.message().getSubject()).isEqualTo("Contract");
        assertThat(toVictim.message().getHeader("X-Mailgate-Id")).containsExactly(victim);
        Journal.Entry victimEntry = mailgate.gateway().awaitState(victim, Journal.State.SENT);
        assertThat(victimEntry.channel()).isEqualTo("http");
        assertThat(victimEntry.messageId()).isEqualTo(toVictim.message().getMessageID());
        // the foreign message is a request of its own, with an id of its own
        Journal.Entry foreignEntry = mailgate.gateway().awaitState(idOf(foreign), Journal.State.SENT);
        assertThat(foreignEntry.channel()).isEqualTo("jms");
        assertThat(foreignEntry.source()).doesNotContain(victim);
    }

    @Test
    void a_foreign_message_with_a_sent_outbox_id_and_a_forged_file_moves_no_file_and_is_a_request_of_its_own()
            throws Exception {
        Gateway gateway = mailgate.gateway();
        gateway.drop("invoice.json", "{\"to\": \"billing@example.com\", \"subject\": \"Invoice\", \"text\": \"x\"}");
        JsonNode receipt = gateway.awaitSent("invoice.json");
        String victim = receipt.path("id").asText();
        // a file Mailgate can reach and must never move on a stranger's say-so
        Path precious = Files.createDirectories(mailgate.dir().resolve("data/keep")).resolve("broker-password");
        Files.writeString(precious, "s3cret\n");

        String foreign = send(QUEUE, "{\"to\": \"attacker@example.com\", \"subject\": \"Forged\", \"text\": \"x\"}",
                Map.of("mailgateId", victim, "mailgateFile", precious.toString()));

        Journal.Entry foreignEntry = gateway.awaitState(idOf(foreign), Journal.State.SENT);
        assertThat(foreignEntry.channel()).isEqualTo("jms");
        assertThat(awaitReceived(2)).extracting(r -> r.recipients().get(0))
                .containsExactly("billing@example.com", "attacker@example.com");
        assertThat(precious).as("the forged file property moved nothing").hasContent("s3cret");
        assertThat(mailgate.dir().resolve("data/keep/.sent")).doesNotExist();
        Journal.Entry victimEntry = gateway.journal().find(victim).orElseThrow();
        assertThat(victimEntry.events()).extracting(Journal.Event::state).filteredOn(s -> s == Journal.State.SENT)
                .hasSize(1);
    }
    // --- issue 14 review: the files of other channels' requests in data/uploads -------------------------------------

    /** What the victim's attachment holds: it must reach the victim's recipient only. */
    private static final String PAYSLIP = "PAYSLIP-of-the-victim: net 4711.00, account DE02 1203 0000 0000 2020 51";

    /** The dead letter whose {@code mailgateId} is {@code id}, once it is there (as the operator sees it). */
    private Message deadLetter(String id) throws Exception {
        try (Jms operator = new Jms("tcp://127.0.0.1:" + BROKER_PORT)) {
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> operator.browse(DLQ).stream()
                    .anyMatch(m -> id.equals(property(m, "mailgateId"))));
            return operator.browse(DLQ).stream().filter(m -> id.equals(property(m, "mailgateId"))).findFirst()
                    .orElseThrow();
        }
    }

    /** The journal entry of {@code id} once it is sent or failed. */
    private Journal.Entry outcome(String id) {
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> mailgate.gateway().journal().find(id)
                .map(e -> e.state() == Journal.State.SENT || e.state() == Journal.State.FAILED).orElse(false));
        return mailgate.gateway().journal().find(id).orElseThrow();
    }

    private static String property(Message message, String name) {
        try {
            return message.getStringProperty(name);
        } catch (JMSException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void a_producer_naming_another_requests_copied_attachment_is_dead_lettered_and_its_bytes_never_reach_the_server()
            throws Exception {
        Gateway gateway = mailgate.gateway();
        // the victim's mail is held in DATA, so that its copy in data/uploads/<id>/ is there while the attacker asks
        TestSmtpServer.DataHold hold = mailgate.smtp().holdDataTo("victim@example.com");
        String victim;
        String copied;
        String attack;
        Journal.Entry refused;
        try {
            gateway.attachment("payslip.pdf", PAYSLIP.getBytes(StandardCharsets.UTF_8));
            Path victimFile = gateway.drop("payslip.json", "{\"to\": \"victim@example.com\", \"subject\": "
                    + "\"Payslip\", \"text\": \"attached\", \"attachments\": [{\"path\": \"payslip.pdf\"}]}");
            // anyone who can stat the outbox file knows its delivery id (path, inode, size, time): the copy's folder
            victim = OutboxFiles.deliveryId(victimFile);
            assertThat(hold.awaitHeld(Duration.ofSeconds(30))).as("the victim's mail is being sent").isTrue();
            Path uploads = mailgate.dir().resolve("data/uploads");
            Path copy;
            try (var files = Files.walk(uploads.resolve(victim))) {
                copy = files.filter(p -> p.getFileName().toString().equals(".payslip.pdf")).findFirst()
                        .orElseThrow(() -> new AssertionError("no copy of the victim's attachment in its folder"));
            }
            copied = uploads.relativize(copy).toString();

            attack = send(QUEUE, "{\"to\": \"attacker@example.com\", \"subject\": \"Stolen\", \"text\": "
                    + "\"x\", \"attachments\": [{\"path\": \"" + copied + "\"}]}", Map.of());

            refused = outcome(idOf(attack));
        } finally {
            // a held DATA would also keep the test server from stopping
            hold.release();
        }
        gateway.awaitSent("payslip.json");
        assertThat(refused.state()).as("the attacker's request").isEqualTo(Journal.State.FAILED);
        assertThat(refused.failureCategory()).isEqualTo("invalid-request");
        Message letter = deadLetter(idOf(attack));
        assertThat(letter.getStringProperty("mailgateErrors")).isEqualTo("attachments[0].path: '" + copied
                + "' is in a folder Mailgate keeps for a request it queued itself (named by its delivery "
                + "id); a JMS client may attach only its own files: put them in a folder of your own in the JMS "
                + "attachments folder (mailgate.jms.attachments-dir), e.g. <your application>/report.pdf");
        List<TestSmtpServer.Received> received = received();
        assertThat(received).as("only the victim's mail reached the server").extracting(r -> r.recipients())
                .containsExactly(List.of("victim@example.com"));
    }

    @Test
    void a_producer_naming_its_own_file_in_data_uploads_is_still_sent() throws Exception {
        Path own = Files.createDirectories(mailgate.dir().resolve("data/uploads/nightly-export"));
        Files.writeString(own.resolve("report.csv"), "day;count\nmonday;42\n");

        String jmsId = send(QUEUE, "{\"to\": \"alice@example.com\", \"subject\": \"Export\", \"text\": \"x\", "
                + "\"attachments\": [{\"path\": \"nightly-export/report.csv\"}]}", Map.of());

        mailgate.gateway().awaitState(idOf(jmsId), Journal.State.SENT);
        TestSmtpServer.Received mail = awaitReceived(1).get(0);
        Multipart parts = (Multipart) mail.message().getContent();
        assertThat(new String(parts.getBodyPart(1).getInputStream().readAllBytes(), StandardCharsets.UTF_8))
                .isEqualTo("day;count\nmonday;42\n");
    }

    @Test
    void a_producer_file_in_a_folder_named_like_a_delivery_id_is_refused_saying_where_client_files_go()
            throws Exception {
        // the rule that keeps Mailgate's folders out of reach, also for a client that chose such a name itself
        String lookalike = UUID.randomUUID().toString().toUpperCase(java.util.Locale.ROOT);
        Files.writeString(Files.createDirectories(mailgate.dir().resolve("data/uploads").resolve(lookalike))
                .resolve("mine.txt"), "mine");

        String jmsId = send(QUEUE, "{\"to\": \"alice@example.com\", \"subject\": \"Mine\", \"text\": \"x\", "
                + "\"attachments\": [{\"path\": \"" + lookalike + "/mine.txt\"}]}", Map.of());

        assertThat(outcome(idOf(jmsId)).state()).isEqualTo(Journal.State.FAILED);
        assertThat(deadLetter(idOf(jmsId)).getStringProperty("mailgateErrors")).startsWith("attachments[0].path: '"
                + lookalike + "/mine.txt' is in a folder Mailgate keeps for a request it queued itself")
                .contains("put them in a folder of your own");
        assertThat(received()).isEmpty();
    }

    @Test
    void an_http_dead_letter_sent_back_reaches_its_uploaded_file_only_with_mailgates_replay_property()
            throws Exception {
        Gateway gateway = mailgate.gateway();
        mailgate.smtp().replyToNext(TestSmtpServer.Stage.RCPT_TO, 550, "5.1.1 User unknown");
        var accepted = mailgate.http().postMultipart(MailgateExtension.API_KEY, "{\"to\": \"bob@example.com\", "
                + "\"subject\": \"Contract\", \"text\": \"attached\"}", Map.of("contract.txt",
                        "the signed contract".getBytes(StandardCharsets.UTF_8)));
        String id = Http.json(accepted).path("id").asText();
        gateway.awaitState(id, Journal.State.FAILED);

        // the operator takes the dead letter and sends it back as it is, properties and all
        String replay;
        try (ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + BROKER_PORT,
                "mailgate-operator", Jms.OPERATOR_PASSWORD); Connection connection = factory.createConnection()) {
            connection.start();
            Session session = connection.createSession(false, Session.AUTO_ACKNOWLEDGE);
            TextMessage letter;
            try (MessageConsumer consumer = session.createConsumer(session.createQueue(DLQ))) {
                letter = (TextMessage) consumer.receive(10_000);
            }
            assertThat(letter.getStringProperty("mailgateId")).isEqualTo(id);
            // the body alone, as anyone could write it, does not reach the request's files
            TextMessage bare = session.createTextMessage(letter.getText());
            try (MessageProducer producer = session.createProducer(session.createQueue(QUEUE))) {
                producer.send(bare);
            }
            assertThat(outcome(idOf(bare.getJMSMessageID())).state()).isEqualTo(Journal.State.FAILED);
            assertThat(deadLetter(idOf(bare.getJMSMessageID())).getStringProperty("mailgateErrors"))
                    .contains("is in a folder Mailgate keeps for a request it queued itself");
            TextMessage again = session.createTextMessage(letter.getText());
            for (String name : Collections.list((java.util.Enumeration<?>) letter.getPropertyNames()).stream()
                    .map(String::valueOf).filter(n -> n.startsWith("mailgate")).toList()) {
                again.setObjectProperty(name, letter.getObjectProperty(name));
            }
            try (MessageProducer producer = session.createProducer(session.createQueue(QUEUE))) {
                producer.send(again);
            }
            replay = again.getJMSMessageID();
        }

        gateway.awaitState(idOf(replay), Journal.State.SENT);
        TestSmtpServer.Received mail = awaitReceived(1).get(0);
        assertThat(mail.recipients()).containsExactly("bob@example.com");
        Multipart parts = (Multipart) mail.message().getContent();
        assertThat(new String(parts.getBodyPart(1).getInputStream().readAllBytes(), StandardCharsets.UTF_8))
                .isEqualTo("the signed contract");
    }
}
