package dev.mailgate.compose;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import jakarta.mail.Address;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Multipart;
import jakarta.mail.Part;
import jakarta.mail.Session;
import jakarta.mail.internet.ContentType;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeUtility;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.render.TemplateRenderer;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestReader;

class MimeComposerTest {

    private static final String ID = "0b7c6a1e-delivery-42";

    @TempDir
    Path tmp;

    private MimeComposer composer;

    @BeforeEach
    void setUp() throws IOException {
        Path templates = Files.createDirectories(tmp.resolve("templates"));
        Files.writeString(templates.resolve("note.html.ftlh"), "<p>Hello <b>${name}</b></p>");
        Files.writeString(templates.resolve("note.subject.ftl"), "Note for ${name}");
        composer = new MimeComposer(new TemplateRenderer(templates));
    }

    /** A request with only what a test cares about. */
    private static final class R {
        String from = "Sender <sender@example.com>";
        List<String> to = List.of("alice@example.com");
        List<String> cc = List.of();
        List<String> bcc = List.of();
        List<String> replyTo = List.of();
        String subject = "Hello";
        String text;
        String html;
        String template;
        Map<String, Object> data = Map.of();
        List<MailRequest.Attachment> attachments = new ArrayList<>();
        Map<String, String> headers = Map.of();
        MailRequest.Priority priority = MailRequest.Priority.NORMAL;

        MailRequest build() {
            return new MailRequest(from, to, cc, bcc, replyTo, subject, text, html, template, data, attachments,
                    headers, priority, null, null);
        }
    }

    private OutgoingMessage compose(R r) throws MessagingException, IOException {
        return composer.compose(r.build(), ID);
    }

    private static byte[] bytesOf(MimeMessage message) throws IOException, MessagingException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        message.writeTo(out);
        return out.toByteArray();
    }

    /** Writes the message as it would go on the wire and parses it back, as a recipient would. */
    private static MimeMessage roundTrip(MimeMessage message) throws IOException, MessagingException {
        return new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(bytesOf(message)));
    }

    private static String baseType(Part part) throws MessagingException {
        return new ContentType(part.getContentType()).getBaseType();
    }

    private static byte[] content(Part part) throws IOException, MessagingException {
        try (InputStream in = part.getInputStream()) {
            return in.readAllBytes();
        }
    }

    private static String sha256(byte[] bytes) throws NoSuchAlgorithmException {
        return java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private Path binaryFile(String name, int size) throws IOException {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (i * 31 + (i >> 8));
        }
        return Files.write(tmp.resolve(name), bytes);
    }

    // --- body structure ---------------------------------------------------------------------------------

    @Test
    void sends_text_only_as_text_plain_utf8() throws Exception {
        R r = new R();
        r.text = "Grüße aus Köln";

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(baseType(parsed)).isEqualTo("text/plain");
        assertThat(new ContentType(parsed.getContentType()).getParameter("charset")).isEqualToIgnoringCase("UTF-8");
        assertThat(parsed.getContent()).isEqualTo("Grüße aus Köln");
    }

    @Test
    void sends_html_only_as_text_html() throws Exception {
        R r = new R();
        r.html = "<p>Hi</p>";

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(baseType(parsed)).isEqualTo("text/html");
        assertThat(parsed.getContent()).isEqualTo("<p>Hi</p>");
    }

    @Test
    void sends_text_and_html_as_multipart_alternative_with_text_first() throws Exception {
        R r = new R();
        r.text = "Hi";
        r.html = "<p>Hi</p>";

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(baseType(parsed)).isEqualTo("multipart/alternative");
        Multipart alternative = (Multipart) parsed.getContent();
        assertThat(alternative.getCount()).isEqualTo(2);
        assertThat(baseType(alternative.getBodyPart(0))).isEqualTo("text/plain");
        assertThat(alternative.getBodyPart(0).getContent()).isEqualTo("Hi");
        assertThat(baseType(alternative.getBodyPart(1))).isEqualTo("text/html");
        assertThat(alternative.getBodyPart(1).getContent()).isEqualTo("<p>Hi</p>");
    }

    @Test
    void sends_html_with_an_inline_image_as_multipart_related() throws Exception {
        byte[] png = {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2, 3};
        R r = new R();
        r.html = "<img src=\"cid:logo\">";
        r.attachments = List.of(MailRequest.Attachment.ofBytes(png, "logo.png", null, "logo"));

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(baseType(parsed)).isEqualTo("multipart/related");
        Multipart related = (Multipart) parsed.getContent();
        assertThat(related.getCount()).isEqualTo(2);
        assertThat(baseType(related.getBodyPart(0))).isEqualTo("text/html");
        MimeBodyPart image = (MimeBodyPart) related.getBodyPart(1);
        assertThat(image.getContentID()).isEqualTo("<logo>");
        assertThat(image.getDisposition()).isEqualTo(Part.INLINE);
        assertThat(baseType(image)).isEqualTo("image/png");
        assertThat(content(image)).isEqualTo(png);
    }

    @Test
    void nests_alternative_inside_related_inside_mixed_when_there_is_everything() throws Exception {
        Path pdf = binaryFile("report.pdf", 1000);
        R r = new R();
        r.text = "Hi";
        r.html = "<img src=\"cid:logo\">";
        r.attachments = List.of(MailRequest.Attachment.ofBytes(new byte[] {1}, "logo.png", null, "logo"),
                MailRequest.Attachment.ofFile(pdf, "report.pdf", null, null));

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(baseType(parsed)).isEqualTo("multipart/mixed");
        Multipart mixed = (Multipart) parsed.getContent();
        assertThat(mixed.getCount()).isEqualTo(2);
        assertThat(baseType(mixed.getBodyPart(0))).isEqualTo("multipart/related");
        Multipart related = (Multipart) mixed.getBodyPart(0).getContent();
        assertThat(baseType(related.getBodyPart(0))).isEqualTo("multipart/alternative");
        assertThat(((MimeBodyPart) related.getBodyPart(1)).getContentID()).isEqualTo("<logo>");
        assertThat(mixed.getBodyPart(1).getFileName()).isEqualTo("report.pdf");
    }

    @Test
    void sends_attachments_as_multipart_mixed_with_the_files_exact_bytes() throws Exception {
        Path pdf = binaryFile("report.pdf", 100_003);
        R r = new R();
        r.text = "See attached";
        r.attachments = List.of(MailRequest.Attachment.ofFile(pdf, "report.pdf", null, null));

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(baseType(parsed)).isEqualTo("multipart/mixed");
        Multipart mixed = (Multipart) parsed.getContent();
        assertThat(mixed.getCount()).isEqualTo(2);
        assertThat(mixed.getBodyPart(0).getContent()).isEqualTo("See attached");
        Part attachment = mixed.getBodyPart(1);
        assertThat(attachment.getDisposition()).isEqualTo(Part.ATTACHMENT);
        assertThat(attachment.getFileName()).isEqualTo("report.pdf");
        assertThat(((MimeBodyPart) attachment).getEncoding()).isEqualTo("base64");
        assertThat(sha256(content(attachment))).isEqualTo(sha256(Files.readAllBytes(pdf)));
    }

    @Test
    void sends_an_attachment_only_mail_with_just_the_attachment() throws Exception {
        R r = new R();
        r.attachments = List.of(MailRequest.Attachment.ofBytes("a,b\n1,2\n".getBytes(UTF_8), "data.csv", null, null));

        MimeMessage parsed = roundTrip(compose(r));

        Multipart mixed = (Multipart) parsed.getContent();
        assertThat(mixed.getCount()).isEqualTo(1);
        assertThat(mixed.getBodyPart(0).getFileName()).isEqualTo("data.csv");
        assertThat(content(mixed.getBodyPart(0))).isEqualTo("a,b\n1,2\n".getBytes(UTF_8));
    }

    @Test
    void guesses_the_content_type_from_the_file_extension() throws Exception {
        R r = new R();
        r.text = "x";
        r.attachments = List.of(
                MailRequest.Attachment.ofFile(binaryFile("scan.PDF", 10), "scan.PDF", null, null),
                MailRequest.Attachment.ofBytes(new byte[] {1}, "table.xlsx", null, null),
                MailRequest.Attachment.ofBytes(new byte[] {1}, "noextension", null, null));

        Multipart mixed = (Multipart) roundTrip(compose(r)).getContent();

        assertThat(baseType(mixed.getBodyPart(1))).isEqualTo("application/pdf");
        assertThat(baseType(mixed.getBodyPart(2)))
                .isEqualTo("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
        assertThat(baseType(mixed.getBodyPart(3))).isEqualTo("application/octet-stream");
    }

    @Test
    void takes_the_content_type_from_the_request_over_the_extension() throws Exception {
        R r = new R();
        r.text = "x";
        r.attachments = List.of(
                MailRequest.Attachment.ofFile(binaryFile("export.pdf", 10), "export.pdf", "application/json", null));

        Multipart mixed = (Multipart) roundTrip(compose(r)).getContent();

        assertThat(baseType(mixed.getBodyPart(1))).isEqualTo("application/json");
    }

    // --- headers ----------------------------------------------------------------------------------------

    @Test
    void round_trips_a_non_ascii_subject() throws Exception {
        R r = new R();
        r.text = "x";
        r.subject = "Grüße – Bericht für März 📎";

        OutgoingMessage message = compose(r);

        assertThat(new String(bytesOf(message), UTF_8)).doesNotContain("Grüße");
        assertThat(roundTrip(message).getSubject()).isEqualTo("Grüße – Bericht für März 📎");
    }

    @Test
    void round_trips_a_non_ascii_attachment_filename() throws Exception {
        R r = new R();
        r.text = "x";
        r.attachments = List.of(
                MailRequest.Attachment.ofBytes(new byte[] {1}, "Übersicht März – Q1.pdf", null, null));

        Multipart mixed = (Multipart) roundTrip(compose(r)).getContent();

        assertThat(mixed.getBodyPart(1).getFileName()).isEqualTo("Übersicht März – Q1.pdf");
    }

    @Test
    void sets_from_to_cc_and_reply_to_headers() throws Exception {
        R r = new R();
        r.text = "x";
        r.to = List.of("alice@example.com", "\"Smith, Bob\" <bob@example.com>");
        r.cc = List.of("carol@example.com");
        r.replyTo = List.of("replies@example.com");

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(parsed.getFrom()).containsExactly(new InternetAddress("sender@example.com", "Sender"));
        assertThat(parsed.getRecipients(Message.RecipientType.TO)).extracting(a -> ((InternetAddress) a).getAddress())
                .containsExactly("alice@example.com", "bob@example.com");
        assertThat(parsed.getRecipients(Message.RecipientType.CC)).extracting(Address::toString)
                .containsExactly("carol@example.com");
        assertThat(parsed.getReplyTo()).extracting(Address::toString).containsExactly("replies@example.com");
    }

    @Test
    void includes_bcc_in_the_recipients_of_the_composed_message() throws Exception {
        R r = new R();
        r.text = "x";
        r.bcc = List.of("audit@example.com");

        OutgoingMessage message = compose(r);

        assertThat(message.getAllRecipients()).extracting(Address::toString)
                .containsExactlyInAnyOrder("alice@example.com", "audit@example.com");
        assertThat(message.getRecipients(Message.RecipientType.BCC)).extracting(Address::toString)
                .containsExactly("audit@example.com");
    }

    @Test
    void never_writes_the_bcc_header_whoever_writes_the_message() throws Exception {
        R r = new R();
        r.text = "x";
        r.bcc = List.of("audit@example.com");

        // not through SMTP (whose transport leaves Bcc out itself): a copy written anywhere else
        String written = new String(bytesOf(compose(r)), UTF_8);

        assertThat(written).doesNotContainIgnoringCase("bcc").doesNotContain("audit@example.com");
    }

    @Test
    void sets_the_delivery_id_header_and_a_message_id_in_the_senders_domain() throws Exception {
        R r = new R();
        r.text = "x";

        OutgoingMessage message = compose(r);
        MimeMessage parsed = roundTrip(message);

        assertThat(parsed.getHeader("X-Mailgate-Id", null)).isEqualTo(ID);
        assertThat(parsed.getMessageID()).isEqualTo("<" + ID + "@example.com>");
        assertThat(parsed.getSentDate()).isNotNull();
        assertThat(message.id()).isEqualTo(ID);
        assertThat(message.mailbox()).isEqualTo("sender@example.com");
    }

    @Test
    void marks_a_high_priority_mail() throws Exception {
        R r = new R();
        r.text = "x";
        r.priority = MailRequest.Priority.HIGH;

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(parsed.getHeader("X-Priority", null)).isEqualTo("1 (Highest)");
        assertThat(parsed.getHeader("Importance", null)).isEqualTo("high");
    }

    @Test
    void marks_a_low_priority_mail() throws Exception {
        R r = new R();
        r.text = "x";
        r.priority = MailRequest.Priority.LOW;

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(parsed.getHeader("X-Priority", null)).isEqualTo("5 (Lowest)");
        assertThat(parsed.getHeader("Importance", null)).isEqualTo("low");
    }

    @Test
    void leaves_priority_headers_out_for_a_normal_mail() throws Exception {
        R r = new R();
        r.text = "x";

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(parsed.getHeader("X-Priority")).isNull();
        assertThat(parsed.getHeader("Importance")).isNull();
    }

    @Test
    void sets_custom_x_headers() throws Exception {
        R r = new R();
        r.text = "x";
        r.headers = Map.of("X-Order-Id", "A-1001", "X-Customer", "Jürgen Müller");

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(parsed.getHeader("X-Order-Id", null)).isEqualTo("A-1001");
        assertThat(MimeUtility.decodeText(MimeUtility.unfold(parsed.getHeader("X-Customer", null))))
                .isEqualTo("Jürgen Müller");
    }

    @Test
    void renders_a_template_into_subject_html_and_derived_text() throws Exception {
        R r = new R();
        r.subject = null;
        r.template = "note";
        r.data = Map.of("name", "<Ann>");

        MimeMessage parsed = roundTrip(compose(r));

        assertThat(parsed.getSubject()).isEqualTo("Note for <Ann>");
        Multipart alternative = (Multipart) parsed.getContent();
        assertThat(alternative.getBodyPart(0).getContent()).isEqualTo("Hello <Ann>\n");
        assertThat(alternative.getBodyPart(1).getContent()).isEqualTo("<p>Hello <b>&lt;Ann&gt;</b></p>");
    }

    @Test
    void prefers_the_request_subject_over_the_template_subject() throws Exception {
        R r = new R();
        r.subject = "Given";
        r.template = "note";
        r.data = Map.of("name", "Ann");

        assertThat(roundTrip(compose(r)).getSubject()).isEqualTo("Given");
    }

    // --- raw .eml ---------------------------------------------------------------------------------------

    private static int bodyStart(byte[] message) {
        for (int i = 0; i + 3 < message.length; i++) {
            if (message[i] == '\r' && message[i + 1] == '\n' && message[i + 2] == '\r' && message[i + 3] == '\n') {
                return i + 4;
            }
        }
        throw new AssertionError("no header/body separator");
    }

    @Test
    void keeps_an_eml_message_id_and_body_bytes_and_adds_the_delivery_id() throws Exception {
        String body = "--b1\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                + "caf\u00e9 =3D not QP   \r\n.\r\n.. dots\r\n--b1--\r\n";
        byte[] bodyBytes = body.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        byte[] headers = ("From: Sender <sender@example.com>\r\nTo: alice@example.com\r\n"
                + "Subject: Raw\r\nDate: Mon, 3 Jun 2024 10:00:00 +0200\r\n"
                + "Message-ID: <original-123@client.example.org>\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: multipart/mixed; boundary=b1\r\n\r\n").getBytes(UTF_8);
        Path eml = tmp.resolve("raw.eml");
        byte[] original = new byte[headers.length + bodyBytes.length];
        System.arraycopy(headers, 0, original, 0, headers.length);
        System.arraycopy(bodyBytes, 0, original, headers.length, bodyBytes.length);
        Files.write(eml, original);

        try (OutgoingMessage message = composer.compose(MailRequestReader.fromEml(eml), ID)) {
            byte[] written = bytesOf(message);
            MimeMessage parsed = roundTrip(message);

            assertThat(Arrays.copyOfRange(written, bodyStart(written), written.length)).isEqualTo(bodyBytes);
            assertThat(parsed.getMessageID()).isEqualTo("<original-123@client.example.org>");
            assertThat(parsed.getHeader("Date", null)).isEqualTo("Mon, 3 Jun 2024 10:00:00 +0200");
            assertThat(parsed.getHeader("X-Mailgate-Id", null)).isEqualTo(ID);
        }
    }

    @Test
    void gives_an_eml_without_message_id_and_date_both() throws Exception {
        Path eml = Files.writeString(tmp.resolve("bare.eml"),
                "From: sender@example.com\r\nTo: alice@example.com\r\nSubject: Bare\r\n\r\nHello\r\n");

        try (OutgoingMessage message = composer.compose(MailRequestReader.fromEml(eml), ID)) {
            MimeMessage parsed = roundTrip(message);

            assertThat(parsed.getMessageID()).isEqualTo("<" + ID + "@example.com>");
            assertThat(parsed.getSentDate()).isNotNull();
            assertThat(parsed.getHeader("X-Mailgate-Id", null)).isEqualTo(ID);
            assertThat(parsed.getContent()).isEqualTo("Hello\r\n");
        }
    }

    // --- memory -----------------------------------------------------------------------------------------

    /** Counts what is written and throws it away. */
    private static final class CountingSink extends OutputStream {
        long count;

        @Override
        public void write(int b) {
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            count += len;
        }
    }

    @Test
    void streams_a_large_attachment_from_disk_instead_of_loading_it() throws Exception {
        Path big = tmp.resolve("big.pdf");
        byte[] block = new byte[1024 * 1024];
        for (int i = 0; i < block.length; i++) {
            block[i] = (byte) (i % 251);
        }
        try (OutputStream out = Files.newOutputStream(big)) {
            for (int i = 0; i < 30; i++) {
                out.write(block);
            }
        }
        block = null;
        R r = new R();
        r.text = "the big file";
        r.attachments = List.of(MailRequest.Attachment.ofFile(big, "big.pdf", null, null));
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        CountingSink sink = new CountingSink();

        long before = threads.getCurrentThreadAllocatedBytes();
        try (OutgoingMessage message = compose(r)) {
            message.writeTo(sink);
        }
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;

        assertThat(sink.count).as("bytes written").isGreaterThan(40L * 1024 * 1024);
        assertThat(allocated).as("bytes allocated while composing and writing").isLessThan(12L * 1024 * 1024);
    }
}
