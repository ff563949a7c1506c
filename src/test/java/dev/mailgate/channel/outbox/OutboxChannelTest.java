package dev.mailgate.channel.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;

import jakarta.mail.BodyPart;
import jakarta.mail.Message;
import jakarta.mail.Multipart;
import jakarta.mail.Part;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * The outbox channel end to end, one gateway for the class: each file type arrives at a real SMTP server with
 * the right headers, parts and bytes, leaves a receipt in {@code .sent/}, and bad requests end in
 * {@code .failed/} with an error that names the field while the next good file still goes out.
 */
class OutboxChannelTest {

    @TempDir
    static Path dir;

    private static final SelfSignedCertificate TLS = SelfSignedCertificate.forLocalhost();
    private static TestEntra entra;
    private static TestSmtpServer smtp;
    private static Gateway gateway;

    @BeforeAll
    static void start() {
        entra = new TestEntra(TLS, null);
        smtp = TestSmtpServer.withStartTls(TLS.serverContext(), entra.tokens());
        var properties = Gateway.realTenant(dir, entra, smtp.port(), TLS);
        // a 30 MB file is about 40 MB once base64-encoded: over Exchange Online's default 35 MB, as an admin
        // would raise it with Set-Mailbox -MaxSendSize
        properties.put("mailgate.limits.max-message-size", "50MB");
        gateway = Gateway.start(dir, properties);
    }

    @AfterAll
    static void stop() {
        gateway.close();
        smtp.close();
        entra.close();
    }

    /** The message the server received whose X-Mailgate-Id is the receipt's id. */
    private static TestSmtpServer.Received receivedFor(JsonNode receipt) {
        String id = receipt.path("id").asText();
        return smtp.received().stream().filter(r -> r.text().contains("X-Mailgate-Id: " + id)).findFirst()
                .orElseThrow(() -> new AssertionError("server did not receive " + id));
    }

    @Test
    void json_request_with_text_html_inline_image_and_attachment_arrives_intact() throws Exception {
        byte[] pdf = pattern(200_000);
        byte[] logo = pattern(3_000);
        gateway.attachment("invoices/INV-7.pdf", pdf);
        gateway.drop("invoice.json", """
                {
                  "from": "Billing <sender@contoso.test>",
                  "to": ["Alice <alice@example.com>", "bob@example.com"],
                  "cc": "carol@example.com",
                  "bcc": ["audit@example.com"],
                  "replyTo": "support@contoso.test",
                  "subject": "Invoice INV-7 — €42",
                  "text": "Your invoice is attached.",
                  "html": "<p>Your invoice is attached.</p><img src=\\"cid:logo\\">",
                  "attachments": [
                    {"path": "invoices/INV-7.pdf"},
                    {"filename": "logo.png", "content": "%s", "contentId": "logo"}
                  ],
                  "headers": {"X-Order-Id": "7"},
                  "priority": "high"
                }
                """.formatted(Base64.getEncoder().encodeToString(logo)));

        JsonNode receipt = gateway.awaitSent("invoice.json");
        TestSmtpServer.Received received = receivedFor(receipt);
        MimeMessage mail = received.message();

        assertThat(received.recipients()).containsExactlyInAnyOrder("alice@example.com", "bob@example.com",
                "carol@example.com", "audit@example.com");
        assertThat(received.text()).doesNotContain("audit@example.com");
        assertThat(mail.getHeader("Bcc")).isNull();
        assertThat(mail.getFrom()[0].toString()).isEqualTo("Billing <sender@contoso.test>");
        assertThat(mail.getRecipients(Message.RecipientType.TO)).extracting(Object::toString)
                .containsExactly("Alice <alice@example.com>", "bob@example.com");
        assertThat(mail.getReplyTo()[0].toString()).isEqualTo("support@contoso.test");
        assertThat(mail.getSubject()).isEqualTo("Invoice INV-7 — €42");
        assertThat(mail.getHeader("X-Order-Id")[0]).isEqualTo("7");
        assertThat(mail.getHeader("X-Priority")[0]).isEqualTo("1 (Highest)");
        assertThat(mail.getMessageID()).isEqualTo(receipt.path("messageId").asText());
        assertThat(mail.isMimeType("multipart/mixed")).isTrue();

        Multipart mixed = (Multipart) mail.getContent();
        BodyPart related = mixed.getBodyPart(0);
        assertThat(related.isMimeType("multipart/related")).isTrue();
        MimeMultipart relatedParts = (MimeMultipart) related.getContent();
        BodyPart alternative = relatedParts.getBodyPart(0);
        assertThat(alternative.isMimeType("multipart/alternative")).isTrue();
        Multipart bodies = (Multipart) alternative.getContent();
        assertThat(bodies.getBodyPart(0).isMimeType("text/plain")).isTrue();
        assertThat(bodies.getBodyPart(0).getContent().toString()).isEqualTo("Your invoice is attached.");
        assertThat(bodies.getBodyPart(1).isMimeType("text/html")).isTrue();
        BodyPart image = relatedParts.getBodyPart(1);
        assertThat(image.getHeader("Content-ID")[0]).isEqualTo("<logo>");
        assertThat(image.getDisposition()).isEqualTo(Part.INLINE);
        assertThat(image.isMimeType("image/png")).isTrue();
        assertThat(bytes(image)).isEqualTo(logo);
        BodyPart attachment = mixed.getBodyPart(1);
        assertThat(attachment.getFileName()).isEqualTo("INV-7.pdf");
        assertThat(attachment.isMimeType("application/pdf")).isTrue();
        assertThat(attachment.getDisposition()).isEqualTo(Part.ATTACHMENT);
        assertThat(sha256(bytes(attachment))).isEqualTo(sha256(pdf));

        assertThat(receipt.path("status").asText()).isEqualTo("sent");
        assertThat(receipt.path("recipients").asInt()).isEqualTo(4);
        assertThat(receipt.path("mailbox").asText()).isEqualTo("sender@contoso.test");
        assertThat(receipt.path("serverReply").asText()).startsWith("250 2.0.0 OK");
        assertThat(receipt.path("sentAt").asText()).isNotEmpty();
        assertThat(receipt.has("sandbox")).isFalse();
    }

    @Test
    void template_request_renders_html_with_escaping_and_a_text_alternative() throws Exception {
        gateway.drop("welcome.json", """
                {"to": "dave@example.com", "template": "welcome",
                 "data": {"name": "Dave <script>", "account": "d-1", "items": ["one"]}}
                """);

        MimeMessage mail = receivedFor(gateway.awaitSent("welcome.json")).message();

        assertThat(mail.getSubject()).isEqualTo("Welcome, Dave <script>");
        Multipart alternative = (Multipart) mail.getContent();
        String text = alternative.getBodyPart(0).getContent().toString();
        String html = alternative.getBodyPart(1).getContent().toString();
        assertThat(html).contains("Welcome, Dave &lt;script&gt;!").doesNotContain("<script>");
        assertThat(text).contains("Welcome, Dave <script>!", "- one").doesNotContain("<h1>");
    }

    @Test
    void eml_is_sent_as_it_is_and_bcc_recipients_get_it_without_the_header() throws Exception {
        String eml = "From: Ops <sender@contoso.test>\r\nTo: erin@example.com\r\nBcc: hidden@example.com\r\n"
                + "Subject: Ready-made\r\nMessage-ID: <ready-made-1@contoso.test>\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=us-ascii\r\n\r\nLine one\r\nLine two\r\n";
        gateway.drop("ready.eml", eml);

        JsonNode receipt = gateway.awaitSent("ready.eml");
        TestSmtpServer.Received received = receivedFor(receipt);

        assertThat(receipt.path("messageId").asText()).isEqualTo("<ready-made-1@contoso.test>");
        assertThat(received.recipients()).containsExactlyInAnyOrder("erin@example.com", "hidden@example.com");
        assertThat(received.mailFrom()).isEqualTo("sender@contoso.test");
        assertThat(received.text()).doesNotContain("Bcc:").doesNotContain("hidden@example.com")
                .endsWith("\r\n\r\nLine one\r\nLine two\r\n")
                .contains("Subject: Ready-made\r\n", "Message-ID: <ready-made-1@contoso.test>\r\n");
    }

    @Test
    void pdf_in_the_reports_folder_is_mailed_with_the_route_recipients_subject_and_template() throws Exception {
        byte[] pdf = pattern(50_000);
        gateway.drop("reports/Q3 sales.pdf", pdf);

        JsonNode receipt = gateway.awaitSent("reports/Q3 sales.pdf");
        TestSmtpServer.Received received = receivedFor(receipt);
        MimeMessage mail = received.message();

        assertThat(received.recipients()).containsExactly("reports@example.com");
        assertThat(mail.getSubject()).isEqualTo("Report Q3 sales");
        Multipart mixed = (Multipart) mail.getContent();
        Multipart alternative = (Multipart) mixed.getBodyPart(0).getContent();
        assertThat(alternative.getBodyPart(0).getContent().toString())
                .contains("the report Q3 sales.pdf (48.8 KB) is attached");
        BodyPart attachment = mixed.getBodyPart(1);
        assertThat(attachment.getFileName()).isEqualTo("Q3 sales.pdf");
        assertThat(bytes(attachment)).isEqualTo(pdf);
        assertThat(gateway.outbox().resolve("reports/.sent/Q3 sales.pdf")).exists();
    }

    @Test
    void invalid_json_fails_with_its_position_and_the_next_file_is_still_sent() {
        gateway.drop("broken.json", "{\"to\": \"a@example.com\",\n \"subject\": }");
        gateway.drop("after-broken.json", "{\"to\": \"a@example.com\", \"text\": \"fine\"}");

        JsonNode error = gateway.awaitFailed("broken.json");
        gateway.awaitSent("after-broken.json");

        assertThat(error.path("category").asText()).isEqualTo("invalid-request");
        assertThat(error.path("errors").get(0).path("message").asText()).contains("is not valid JSON at line 2");
        assertThat(error.path("fix").asText()).contains("correct the fields");
        assertThat(gateway.outbox().resolve(".failed/broken.json")).exists();
    }

    @Test
    void request_without_recipients_and_with_a_bad_address_lists_both_problems() {
        gateway.drop("no-rcpt.json", "{\"cc\": [], \"replyTo\": \"support@\", \"text\": \"x\"}");
        gateway.drop("after-no-rcpt.json", "{\"to\": \"a@example.com\", \"text\": \"fine\"}");

        JsonNode error = gateway.awaitFailed("no-rcpt.json");
        gateway.awaitSent("after-no-rcpt.json");

        assertThat(error.path("errors")).extracting(e -> e.path("field").asText() + ": " + e.path("message").asText())
                .anySatisfy(p -> assertThat(p).startsWith("to: no recipients"))
                .anySatisfy(p -> assertThat(p).startsWith("replyTo[0]: 'support@' is not an email address"));
    }

    @Test
    void unknown_template_fails_naming_the_template_files_looked_for() {
        gateway.drop("no-template.json", "{\"to\": \"a@example.com\", \"template\": \"invoce\"}");
        gateway.drop("after-no-template.json", "{\"to\": \"a@example.com\", \"text\": \"fine\"}");

        JsonNode error = gateway.awaitFailed("no-template.json");
        gateway.awaitSent("after-no-template.json");

        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo("template");
        assertThat(error.path("errors").get(0).path("message").asText())
                .contains("unknown template 'invoce'", "invoce.html.ftlh", "mailgate.templates.dir");
    }

    @Test
    void attachment_path_escaping_the_attachments_folder_fails_and_nothing_is_read() throws Exception {
        Files.writeString(dir.resolve("secret.txt"), "top secret");
        gateway.drop("escape.json", "{\"to\": \"a@example.com\", \"text\": \"x\","
                + " \"attachments\": [{\"path\": \"../../secret.txt\"}]}");
        gateway.drop("after-escape.json", "{\"to\": \"a@example.com\", \"text\": \"fine\"}");

        JsonNode error = gateway.awaitFailed("escape.json");
        gateway.awaitSent("after-escape.json");

        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo("attachments[0].path");
        assertThat(error.path("errors").get(0).path("message").asText()).contains("climbs out with '..'");
        assertThat(smtp.received()).noneMatch(r -> r.text().contains("top secret"));
    }

    @Test
    void half_written_file_is_not_picked_up_until_it_is_complete() throws Exception {
        Path file = gateway.outbox().resolve("slow.json");
        String json = "{\"to\": \"slow@example.com\", \"subject\": \"Slow\", \"text\": \"written in two goes\"}";
        try (OutputStream out = Files.newOutputStream(file)) {
            int split = json.indexOf(',') + 1;
            out.write(json.substring(0, split).getBytes(StandardCharsets.UTF_8));
            out.flush();
            // the writer pauses for less than the settle time (200 ms in tests) between chunks
            for (int i = 0; i < 8; i++) {
                Thread.sleep(100);
                assertThat(file).exists();
                assertThat(gateway.outbox().resolve(".failed/slow.json")).doesNotExist();
                out.write(' ');
                out.flush();
            }
            out.write(json.substring(split).getBytes(StandardCharsets.UTF_8));
        }

        JsonNode receipt = gateway.awaitSent("slow.json");

        assertThat(receivedFor(receipt).recipients()).containsExactly("slow@example.com");
    }

    @Test
    void same_file_name_sent_twice_keeps_both_outcomes() {
        gateway.drop("again.json", "{\"to\": \"a@example.com\", \"text\": \"first\"}");
        JsonNode first = gateway.awaitSent("again.json");
        gateway.drop("again.json", "{\"to\": \"a@example.com\", \"text\": \"second\"}");

        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20))
                .until(() -> Files.exists(gateway.outbox().resolve(".sent/again-2.json.receipt.json")));

        assertThat(gateway.outbox().resolve(".sent/again.json")).hasContent(
                "{\"to\": \"a@example.com\", \"text\": \"first\"}");
        assertThat(gateway.outbox().resolve(".sent/again-2.json")).hasContent(
                "{\"to\": \"a@example.com\", \"text\": \"second\"}");
        assertThat(first.path("id").asText()).isNotBlank();
    }

    @Test
    void thirty_megabyte_attachment_arrives_byte_for_byte() throws Exception {
        byte[] big = pattern(30 * 1024 * 1024);
        gateway.attachment("big.bin", big);
        gateway.drop("big.json", "{\"to\": \"a@example.com\", \"text\": \"big one\","
                + " \"attachments\": [{\"path\": \"big.bin\"}]}");

        JsonNode receipt = gateway.awaitSent("big.json");
        MimeMessage mail = receivedFor(receipt).message();

        BodyPart attachment = ((Multipart) mail.getContent()).getBodyPart(1);
        assertThat(attachment.getFileName()).isEqualTo("big.bin");
        assertThat(sha256(bytes(attachment))).isEqualTo(sha256(big));
    }

    @Test
    void eml_with_a_folded_long_subject_is_sent_unchanged() {
        String eml = "From: sender@contoso.test\r\nTo: frank@example.com\r\nSubject: A long subject that a mail "
                + "client\r\n folded onto a second line\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
                + "Body\r\n";
        gateway.drop("folded.eml", eml);

        JsonNode receipt = gateway.awaitSent("folded.eml");

        assertThat(receivedFor(receipt).text()).contains("Subject: A long subject that a mail client\r\n folded onto "
                + "a second line\r\n");
    }

    @Test
    void structural_and_content_problems_are_reported_together() {
        gateway.drop("both.json", "{\"to\": \"bad@\", \"colour\": \"blue\", \"text\": \"x\"}");

        JsonNode error = gateway.awaitFailed("both.json");

        assertThat(error.path("errors")).extracting(e -> e.path("field").asText())
                .containsExactlyInAnyOrder("colour", "to[0]");
    }

    @Test
    void group_address_is_refused_so_the_recipient_limit_cannot_be_bypassed() {
        gateway.drop("group.json", "{\"to\": \"team: a@example.com, b@example.com;\", \"text\": \"x\"}");

        JsonNode error = gateway.awaitFailed("group.json");

        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo("to[0]");
        assertThat(error.path("errors").get(0).path("message").asText()).contains("is a group");
    }

    @Test
    void a_second_failure_under_the_same_name_never_overwrites_the_first() throws Exception {
        gateway.drop("twice.json", "{\"to\": \"first@\"}");
        gateway.awaitFailed("twice.json");
        gateway.drop("twice.json", "{\"to\": \"second@\"}");

        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20))
                .until(() -> Files.exists(gateway.outbox().resolve(".failed/twice-2.json.error.json")));

        assertThat(gateway.outbox().resolve(".failed/twice.json")).hasContent("{\"to\": \"first@\"}");
        assertThat(gateway.outbox().resolve(".failed/twice-2.json")).hasContent("{\"to\": \"second@\"}");
        assertThat(Files.readString(gateway.outbox().resolve(".failed/twice.json.error.json"))).contains("first@");
        assertThat(Files.readString(gateway.outbox().resolve(".failed/twice-2.json.error.json"))).contains("second@");
    }

    @Test
    void outbox_requests_are_journaled_and_a_repeated_idempotency_key_is_not_sent_again() {
        String request = "{\"to\": \"journal@example.com\", \"subject\": \"Once\", \"text\": \"x\", "
                + "\"idempotencyKey\": \"outbox-key-1\"}";
        gateway.drop("keyed.json", request);
        JsonNode receipt = gateway.awaitSent("keyed.json");
        gateway.drop("keyed-again.json", request);

        JsonNode duplicate = gateway.awaitSent("keyed-again.json");

        assertThat(duplicate.path("status").asText()).isEqualTo("duplicate");
        assertThat(duplicate.path("id").asText()).isEqualTo(receipt.path("id").asText());
        assertThat(smtp.received().stream().filter(r -> r.recipients().contains("journal@example.com"))).hasSize(1);
        dev.mailgate.outcome.Journal.Entry entry = gateway.journal().find(receipt.path("id").asText()).orElseThrow();
        assertThat(entry.channel()).isEqualTo("outbox");
        assertThat(entry.state()).isEqualTo(dev.mailgate.outcome.Journal.State.SENT);
        assertThat(entry.source()).endsWith("keyed.json");
        assertThat(entry.messageId()).isEqualTo(receipt.path("messageId").asText());
        assertThat(entry.events()).extracting(dev.mailgate.outcome.Journal.Event::state).containsExactly(
                dev.mailgate.outcome.Journal.State.RECEIVED, dev.mailgate.outcome.Journal.State.QUEUED,
                dev.mailgate.outcome.Journal.State.SENDING, dev.mailgate.outcome.Journal.State.SENT);
    }

    @Test
    void a_file_waits_in_queued_while_its_request_is_retried_then_moves_to_sent() {
        smtp.replyToNextData(451, "4.7.500 Server busy. Please try again later.");
        smtp.replyToNextData(451, "4.7.500 Server busy. Please try again later.");
        gateway.drop("patient.json", "{\"to\": \"patient@example.com\", \"text\": \"x\"}");

        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20))
                .until(() -> Files.exists(gateway.outbox().resolve(".queued/patient.json"))
                        || Files.exists(gateway.outbox().resolve(".sent/patient.json")));
        JsonNode receipt = gateway.awaitSent("patient.json");

        assertThat(receipt.path("attempts").asInt()).isEqualTo(3);
        assertThat(gateway.outbox().resolve(".queued/patient.json")).doesNotExist();
        assertThat(gateway.outbox().resolve("patient.json")).doesNotExist();
    }

    @Test
    void attachments_are_snapshotted_when_the_request_is_queued() throws Exception {
        byte[] original = "original content".getBytes(StandardCharsets.UTF_8);
        Path attachment = gateway.attachment("snapshot.txt", original);
        smtp.replyToNextData(451, "4.7.500 Server busy. Please try again later.");
        gateway.drop("snapshot.json", "{\"to\": \"s@example.com\", \"text\": \"x\", "
                + "\"attachments\": [{\"path\": \"snapshot.txt\"}]}");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20))
                .until(() -> Files.exists(gateway.outbox().resolve(".queued/snapshot.json"))
                        || Files.exists(gateway.outbox().resolve(".sent/snapshot.json")));
        Files.delete(attachment);

        JsonNode receipt = gateway.awaitSent("snapshot.json");

        BodyPart part = ((Multipart) receivedFor(receipt).message().getContent()).getBodyPart(1);
        assertThat(part.getFileName()).isEqualTo("snapshot.txt");
        assertThat(bytes(part)).isEqualTo(original);
    }

    private static byte[] pattern(int size) {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (i * 31 + (i >> 8));
        }
        return bytes;
    }

    private static byte[] bytes(Part part) throws Exception {
        try (InputStream in = part.getInputStream()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        }
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

}
