package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import jakarta.jms.Message;
import jakarta.mail.Multipart;
import jakarta.mail.Part;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.support.FifoFlipper;
import dev.mailgate.support.Jms;
import dev.mailgate.support.LinkFlipper;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * The attachment check can be raced: a user who may write the attachments folder flips {@code x} between a plain file
 * and a link to a file outside while requests naming {@code x} are read, checked, copied and sent. Whatever the timing,
 * no byte of the outside file may reach the SMTP server: every request is sent with the inside content, or fails with
 * an error that names the attachment field; none is lost.
 */
class AttachmentSwapRaceTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String QUEUE = "mailgate.outbox";
    private static final String DLQ = "mailgate.dlq";
    private static final String FIELD = "attachments[0].path";
    private static final int REQUESTS = 60;
    /**
     * Requests of {@value #FIFO_ATTACHMENTS} attachments, each naming the flipped file: enough copies that some opens
     * the FIFO in the moment after its look (about one open in 40 to 70 here; the code before the fix hung after ten
     * requests of one attachment).
     */
    private static final int FIFO_REQUESTS = 150;
    private static final int FIFO_ATTACHMENTS = 5;
    /** What the attachment holds while it is a plain file. */
    private static final String INSIDE = "inside-the-root: the quarterly figures";
    /** The file outside the attachment roots that the link points at (Mailgate can read it: it is its own secret). */
    private static final String SECRET = "OUTSIDE-SECRET-broker-password-7d1c0a";

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant();

    @Test
    void flipping_an_outbox_attachment_between_a_file_and_a_link_to_a_secret_never_sends_the_secret() throws Exception {
        Path root = Files.createDirectories(mailgate.gateway().outbox().resolve("attachments"));
        Path secret = Files.writeString(mailgate.dir().resolve("secret"), SECRET);

        List<String> names = new ArrayList<>();
        try (LinkFlipper flipper = new LinkFlipper(root.resolve("x"), INSIDE, secret)) {
            for (int i = 0; i < REQUESTS; i++) {
                String name = String.format("race-%02d.json", i);
                names.add(name);
                ObjectNode request = request("outbox-race-" + i, "x");
                // written under a hidden name and renamed, as a careful client would: the file itself is never half
                Path hidden = mailgate.gateway().drop("." + name, request.toString());
                Files.move(hidden, hidden.resolveSibling(name), StandardCopyOption.ATOMIC_MOVE);
                Thread.sleep(15);
            }
            // every request has its outcome while the flipping goes on
            try {
                Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(100))
                        .until(() -> names.stream().allMatch(AttachmentSwapRaceTest::finished));
            } catch (org.awaitility.core.ConditionTimeoutException e) {
                throw new AssertionError("requests without an outcome: " + names.stream()
                        .filter(n -> !finished(n)).map(AttachmentSwapRaceTest::whereIs).toList(), e);
            }
            assertThat(flipper.flips()).as("the attachment was flipped while the requests were read").isGreaterThan(100);
        }

        int sent = 0;
        for (String name : names) {
            Path outbox = mailgate.gateway().outbox();
            Path error = outbox.resolve(".failed").resolve(name + ".error.json");
            if (Files.exists(error)) {
                JsonNode failure = JSON.readTree(error.toFile());
                assertThat(failure.path("category").asText()).as(name).isEqualTo("invalid-request");
                assertThat(failure.path("errors").get(0).path("field").asText()).as(name).isEqualTo(FIELD);
                assertThat(failure.toString()).doesNotContain(SECRET);
            } else {
                sent++;
            }
        }
        assertNoSecretAnd(REQUESTS, "outbox-race-", sent);
    }

    /**
     * The FIFO race of the review: {@code fx} flips between a plain file and a FIFO nobody writes to. Opening a FIFO
     * for reading waits for a writer, so a copy that opened it in the moment after its look held the outbox's one
     * consumer thread for ever: no later file was taken until a restart. Now every request ends, sent with the plain
     * file or failed naming the attachment, and the outbox goes on taking files.
     */
    @Test
    void flipping_an_outbox_attachment_between_a_file_and_a_fifo_never_stops_the_outbox() throws Exception {
        Path root = Files.createDirectories(mailgate.gateway().outbox().resolve("attachments"));

        List<String> names = new ArrayList<>();
        try (FifoFlipper flipper = FifoFlipper.briefFifo(root.resolve("fx"), INSIDE)) {
            try {
                for (int i = 0; i < FIFO_REQUESTS; i++) {
                    String name = String.format("fifo-race-%03d.json", i);
                    names.add(name);
                    ObjectNode request = request("outbox-fifo-" + i, "fx");
                    for (int copy = 1; copy < FIFO_ATTACHMENTS; copy++) {
                        ((com.fasterxml.jackson.databind.node.ArrayNode) request.get("attachments")).addObject()
                                .put("path", "fx");
                    }
                    Path hidden = mailgate.gateway().drop("." + name, request.toString());
                    Files.move(hidden, hidden.resolveSibling(name), StandardCopyOption.ATOMIC_MOVE);
                    Thread.sleep(5);
                }
                // the channel still takes files while the attack goes on: one dropped after all the others is sent
                String later = "fifo-race-later.json";
                mailgate.gateway().drop(later, request("outbox-fifo-later", "fx").put("text", "no attachment")
                        .without("attachments").toString());
                mailgate.gateway().awaitSent(later);
                assertThat(flipper.flips()).as("the attachment was flipped while the requests were read")
                        .isGreaterThan(100);
            } finally {
                // lets go of openers still stuck in the FIFO (and, with the code before the fix, of the consumer)
                flipper.close();
            }
        }
        // every request ends: a request whose open found the folder's openers all held by earlier FIFOs failed as
        // temporary and is taken again once they are let go
        try {
            Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(100))
                    .until(() -> names.stream().allMatch(AttachmentSwapRaceTest::finished));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            List<String> open = names.stream().filter(n -> !finished(n)).toList();
            throw new AssertionError(open.size() + " requests without an outcome: "
                    + open.stream().limit(5).map(AttachmentSwapRaceTest::whereIs).toList(), e);
        }

        int sent = 0;
        Map<String, Integer> reasons = new java.util.TreeMap<>();
        for (String name : names) {
            Path error = mailgate.gateway().outbox().resolve(".failed").resolve(name + ".error.json");
            if (Files.exists(error)) {
                JsonNode failure = JSON.readTree(error.toFile());
                assertThat(failure.path("category").asText()).as(name).isEqualTo("invalid-request");
                JsonNode problem = failure.path("errors").get(0);
                assertThat(problem.path("field").asText()).as(name).matches("attachments\\[[0-4]\\]\\.path");
                String message = problem.path("message").asText();
                assertThat(message).as(name).satisfiesAnyOf(
                        m -> assertThat(m).startsWith("'fx' is not a regular file"),
                        m -> assertThat(m).startsWith("'fx' was replaced by something that is not a plain file while "
                                + "Mailgate opened it"));
                reasons.merge(message.startsWith("'fx' is not") ? "not a regular file when checked"
                        : "replaced while opened", 1, Integer::sum);
            } else {
                sent++;
            }
        }
        System.out.println(FIFO_REQUESTS + " outbox requests while fx flipped: " + sent + " sent, failed: " + reasons);
        assertMailsOf("outbox-fifo-", sent);
    }

    @Test
    void flipping_a_jms_attachment_between_a_file_and_a_link_to_a_secret_never_sends_the_secret() throws Exception {
        Path root = Files.createDirectories(mailgate.dir().resolve("data/uploads/race"));
        Path secret = Files.writeString(mailgate.dir().resolve("jms-secret"), SECRET);

        List<String> ids = new ArrayList<>();
        try (LinkFlipper flipper = new LinkFlipper(root.resolve("x"), INSIDE, secret); Jms jms = Jms.inVm()) {
            for (int i = 0; i < REQUESTS; i++) {
                String jmsId = jms.send(QUEUE, request("jms-race-" + i, "race/x").toString(), Map.of());
                ids.add(UUID.nameUUIDFromBytes(("jms:" + jmsId).getBytes(StandardCharsets.UTF_8)).toString());
                Thread.sleep(15);
            }
            Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(100))
                    .until(() -> ids.stream().allMatch(id -> mailgate.gateway().journal().find(id)
                            .map(e -> e.state() == Journal.State.SENT || e.state() == Journal.State.FAILED)
                            .orElse(false)));
            assertThat(flipper.flips()).as("the attachment was flipped while the requests were read").isGreaterThan(100);

            int failed = 0;
            for (String id : ids) {
                Journal.Entry entry = mailgate.gateway().journal().find(id).orElseThrow();
                if (entry.state() == Journal.State.FAILED) {
                    failed++;
                    assertThat(entry.failureCategory()).as(id).isEqualTo("invalid-request");
                }
            }
            int dead = failed;
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> jms.browse(DLQ).size() == dead);
            for (Message letter : jms.browse(DLQ)) {
                assertThat(letter.getStringProperty("mailgateErrors")).startsWith(FIELD + ": ").doesNotContain(SECRET);
            }
            assertNoSecretAnd(REQUESTS, "jms-race-", REQUESTS - failed);
        }
    }

    /** A request whose subject is {@code subject} and whose one attachment is {@code path}. */
    private static ObjectNode request(String subject, String path) {
        ObjectNode request = JSON.createObjectNode().put("to", "alice@example.com").put("subject", subject)
                .put("text", "see the attachment");
        request.putArray("attachments").addObject().put("path", path);
        return request;
    }

    /** Where an unfinished request is, for the failure message. */
    private static String whereIs(String name) {
        Path outbox = mailgate.gateway().outbox();
        String where = Files.exists(outbox.resolve(name)) ? "outbox/"
                : Files.exists(outbox.resolve(".queued").resolve(name)) ? ".queued/" : "nowhere";
        return name + " in " + where;
    }

    private static boolean finished(String name) {
        Path outbox = mailgate.gateway().outbox();
        return Files.exists(outbox.resolve(".sent").resolve(name + ".receipt.json"))
                || Files.exists(outbox.resolve(".failed").resolve(name + ".error.json"));
    }

    /**
     * No mail the server received carries the secret, and the {@code sent} mails with this subject prefix each carry
     * the inside content, exactly once.
     */
    private static void assertNoSecretAnd(int requests, String prefix, int sent) throws Exception {
        List<TestSmtpServer.Received> received = mailgate.smtp().received();
        List<String> leaked = new ArrayList<>();
        for (TestSmtpServer.Received mail : received) {
            if (mail.text().contains(SECRET) || decodedParts(mail).contains(SECRET)) {
                leaked.add(subject(mail));
            }
        }
        assertThat(leaked).as("mails that carried the outside file, of %d received", received.size()).isEmpty();
        assertMailsOf(prefix, sent);
        assertThat(sent).as("of %d requests", requests).isLessThanOrEqualTo(requests);
    }

    /** The {@code sent} mails with this subject prefix each carry the inside content, and arrived once each. */
    private static void assertMailsOf(String prefix, int sent) throws Exception {
        List<TestSmtpServer.Received> ours = mailgate.smtp().received().stream()
                .filter(m -> subject(m).startsWith(prefix) && !subject(m).endsWith("-later")).toList();
        assertThat(ours).as("one mail for each request that did not fail").hasSize(sent);
        for (TestSmtpServer.Received mail : ours) {
            assertThat(decodedParts(mail)).as(subject(mail)).contains(INSIDE);
        }
        assertThat(ours.stream().map(AttachmentSwapRaceTest::subject).distinct().count()).isEqualTo(sent);
    }

    private static String subject(TestSmtpServer.Received mail) {
        try {
            return String.valueOf(mail.message().getSubject());
        } catch (jakarta.mail.MessagingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every part's decoded content, joined: a base64 attachment is compared by what it decodes to. */
    private static String decodedParts(TestSmtpServer.Received mail) throws Exception {
        StringBuilder all = new StringBuilder();
        collect(mail.message(), all);
        return all.toString();
    }

    private static void collect(Part part, StringBuilder all) throws Exception {
        Object content = part.getContent();
        if (content instanceof Multipart multipart) {
            for (int i = 0; i < multipart.getCount(); i++) {
                collect(multipart.getBodyPart(i), all);
            }
        } else {
            try (var in = part.getInputStream()) {
                all.append(new String(in.readAllBytes(), StandardCharsets.UTF_8)).append('\n');
            }
        }
    }
}
