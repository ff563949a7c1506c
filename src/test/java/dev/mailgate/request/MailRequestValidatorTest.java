package dev.mailgate.request;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.mailgate.config.Settings;

class MailRequestValidatorTest {

    private static final Settings.Limits LIMITS = new Settings.Limits(3, 1024 * 1024, 30, 3, 10_000);
    private static final Set<String> TEMPLATES = Set.of("welcome");

    /** Characters that must never reach a header: CR, LF, NUL and the Unicode line separator. */
    private static final String BREAKS = "\r\n\u0000\u2028";

    @TempDir
    Path tmp;

    private final MailRequestValidator validator = new MailRequestValidator(
            Optional.of("Default <noreply@example.com>"), LIMITS, TEMPLATES::contains);

    /** A request builder so that each test names only what it is about. */
    private static final class R {
        String from = "sender@example.com";
        List<String> to = new ArrayList<>(List.of("alice@example.com"));
        List<String> cc = new ArrayList<>();
        List<String> bcc = new ArrayList<>();
        String subject = "Hello";
        String text = "Hi";
        String html;
        String template;
        List<MailRequest.Attachment> attachments = new ArrayList<>();
        Map<String, String> headers = Map.of();
        Path raw;

        MailRequest build() {
            return new MailRequest(from, to, cc, bcc, List.of(), subject, text, html, template, Map.of(), attachments,
                    headers, MailRequest.Priority.NORMAL, null, raw);
        }
    }

    private List<Problem> problems(R r) {
        Throwable thrown = catchThrowable(() -> validator.validate(r.build()));
        assertThat(thrown).as("validation of an invalid request").isInstanceOf(InvalidRequestException.class);
        return ((InvalidRequestException) thrown).problems();
    }

    private void assertSingleProblem(R r, String field, String phrase) {
        assertThat(problems(r)).singleElement().satisfies(p -> {
            assertThat(p.field()).isEqualTo(field);
            assertThat(p.message()).contains(phrase);
        });
    }

    private static MailRequest.Attachment bytes(String filename, int size) {
        return MailRequest.Attachment.ofBytes(new byte[size], filename, null, null);
    }

    // --- sender -----------------------------------------------------------------------------------------

    @Test
    void applies_the_default_sender_when_the_request_has_none() {
        R r = new R();
        r.from = null;

        MailRequest valid = validator.validate(r.build());

        assertThat(valid.from()).isEqualTo("Default <noreply@example.com>");
    }

    @Test
    void keeps_the_request_sender_over_the_default() {
        MailRequest valid = validator.validate(new R().build());

        assertThat(valid.from()).isEqualTo("sender@example.com");
    }

    @Test
    void rejects_a_request_without_sender_when_there_is_no_default() {
        MailRequestValidator noDefault = new MailRequestValidator(Optional.empty(), LIMITS, TEMPLATES::contains);
        R r = new R();
        r.from = null;

        Throwable thrown = catchThrowable(() -> noDefault.validate(r.build()));

        assertThat(thrown).isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.problems())
                .singleElement().satisfies(p -> {
                    assertThat(p.field()).isEqualTo("from");
                    assertThat(p.message()).contains("no sender").contains("mailgate.sender");
                }));
    }

    @Test
    void rejects_a_bad_sender_address() {
        R r = new R();
        r.from = "sender";

        assertSingleProblem(r, "from", "'sender' is not an email address");
    }

    // --- recipients -------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"bob@", "not an address", "a@example.com, b@example.com", "@example.com",
            "<bob@example.com"})
    void rejects_a_bad_recipient_address_with_its_index(String bad) {
        R r = new R();
        r.to = List.of("alice@example.com", bad);

        assertSingleProblem(r, "to[1]", "'" + bad + "' is not an email address");
    }

    @Test
    void rejects_a_bad_cc_address_with_its_index() {
        R r = new R();
        r.cc = List.of("bob@");

        assertSingleProblem(r, "cc[0]", "is not an email address");
    }

    @Test
    void rejects_a_bad_bcc_address_with_its_index() {
        R r = new R();
        r.bcc = List.of("ok@example.com", "x y");

        assertSingleProblem(r, "bcc[1]", "is not an email address");
    }

    @Test
    void rejects_an_address_with_a_line_break() {
        R r = new R();
        r.to = List.of("alice@example.com\r\nBcc: victim@example.com");

        assertSingleProblem(r, "to[0]", "contains a line break or NUL");
    }

    @Test
    void accepts_a_display_name_address() {
        R r = new R();
        r.to = List.of("\"Smith, Alice\" <alice@example.com>");

        assertThat(validator.validate(r.build()).to()).containsExactly("\"Smith, Alice\" <alice@example.com>");
    }

    @Test
    void rejects_a_request_without_recipients() {
        R r = new R();
        r.to = List.of();

        assertSingleProblem(r, "to", "no recipients");
    }

    @Test
    void accepts_a_request_with_only_bcc_recipients() {
        R r = new R();
        r.to = List.of();
        r.bcc = List.of("audit@example.com");

        assertThat(validator.validate(r.build()).bcc()).containsExactly("audit@example.com");
    }

    @Test
    void rejects_more_recipients_than_the_limit_counting_to_cc_and_bcc() {
        R r = new R();
        r.to = List.of("a@example.com", "b@example.com");
        r.cc = List.of("c@example.com");
        r.bcc = List.of("d@example.com");

        assertSingleProblem(r, "to", "4 recipients in to, cc and bcc together; at most 3");
    }

    @Test
    void accepts_exactly_the_recipient_limit() {
        R r = new R();
        r.to = List.of("a@example.com", "b@example.com", "c@example.com");

        assertThat(validator.validate(r.build()).recipientCount()).isEqualTo(3);
    }

    // --- header injection -------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void rejects_a_line_break_or_nul_in_the_subject(int which) {
        R r = new R();
        r.subject = "Hello" + BREAKS.charAt(which) + "Bcc: victim@example.com";

        assertSingleProblem(r, "subject", "contains a line break or NUL character");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void rejects_a_line_break_or_nul_in_a_custom_header_value(int which) {
        R r = new R();
        r.headers = Map.of("X-Order-Id", "42" + BREAKS.charAt(which) + "Bcc: victim@example.com");

        assertSingleProblem(r, "headers.X-Order-Id", "contains a line break or NUL character");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void rejects_a_line_break_or_nul_in_an_attachment_filename(int which) {
        R r = new R();
        r.attachments = List.of(bytes("a.txt", 1), bytes("report" + BREAKS.charAt(which) + ".pdf", 1));

        assertSingleProblem(r, "attachments[1].filename", "contains a line break or NUL character");
    }

    @Test
    void rejects_a_line_break_in_an_attachment_content_type() {
        R r = new R();
        r.attachments = List.of(MailRequest.Attachment.ofBytes(new byte[1], "a.pdf", "application/pdf\r\nX-A: b",
                null));

        assertThat(problems(r)).extracting(Problem::field).containsOnly("attachments[0].contentType");
        assertThat(problems(r)).anySatisfy(p -> assertThat(p.message()).contains("line break"));
    }

    @Test
    void rejects_an_attachment_filename_with_folders() {
        R r = new R();
        r.attachments = List.of(bytes("../../etc/passwd", 1));

        assertSingleProblem(r, "attachments[0].filename", "must be a file name without folders");
    }

    @Test
    void rejects_an_empty_attachment_filename() {
        R r = new R();
        r.attachments = List.of(bytes(" ", 1));

        assertSingleProblem(r, "attachments[0].filename", "is empty");
    }

    // --- custom headers ---------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(strings = {"Bcc", "Subject", "Reply-To", "Received", "X-", "X-Bad Name", "X_Underscore"})
    void rejects_custom_header_names_that_are_not_x_headers(String name) {
        R r = new R();
        r.headers = Map.of(name, "v");

        assertSingleProblem(r, "headers." + name, "only custom X- headers may be set");
    }

    @ParameterizedTest
    @ValueSource(strings = {"X-Mailgate-Id", "x-mailgate-id", "X-MAILGATE-Anything"})
    void rejects_the_reserved_x_mailgate_headers(String name) {
        R r = new R();
        r.headers = Map.of(name, "v");

        assertSingleProblem(r, "headers." + name, "X-Mailgate-* is reserved");
    }

    @Test
    void accepts_a_custom_x_header() {
        R r = new R();
        r.headers = Map.of("X-Order-Id", "42");

        assertThat(validator.validate(r.build()).headers()).containsEntry("X-Order-Id", "42");
    }

    @Test
    void rejects_a_header_value_longer_than_900_characters() {
        R r = new R();
        r.headers = Map.of("X-Long", "x".repeat(901));

        assertSingleProblem(r, "headers.X-Long", "is 901 characters; at most 900");
    }

    // --- body -------------------------------------------------------------------------------------------

    @Test
    void rejects_an_unknown_template() {
        R r = new R();
        r.text = null;
        r.template = "invoice";

        assertSingleProblem(r, "template", "unknown template 'invoice'");
    }

    @Test
    void accepts_a_known_template() {
        R r = new R();
        r.text = null;
        r.template = "welcome";

        assertThat(validator.validate(r.build()).template()).isEqualTo("welcome");
    }

    @Test
    void rejects_a_template_together_with_text() {
        R r = new R();
        r.template = "welcome";

        assertSingleProblem(r, "template", "either a template or text/html, not both");
    }

    @Test
    void rejects_a_template_together_with_html() {
        R r = new R();
        r.text = null;
        r.html = "<p>Hi</p>";
        r.template = "welcome";

        assertSingleProblem(r, "template", "either a template or text/html, not both");
    }

    @Test
    void rejects_a_mail_without_any_content() {
        R r = new R();
        r.text = null;

        assertSingleProblem(r, "text", "the mail has no content");
    }

    @Test
    void accepts_a_mail_with_only_an_attachment() {
        R r = new R();
        r.text = null;
        r.subject = null;
        r.attachments = List.of(bytes("scan.pdf", 10));

        MailRequest valid = validator.validate(r.build());

        assertThat(valid.attachments()).extracting(MailRequest.Attachment::filename).containsExactly("scan.pdf");
    }

    @Test
    void rejects_an_inline_image_without_an_html_body() {
        R r = new R();
        r.attachments = List.of(MailRequest.Attachment.ofBytes(new byte[1], "logo.png", "image/png", "logo"));

        assertSingleProblem(r, "attachments[0].contentId", "inline images need an html body or template");
    }

    @Test
    void accepts_an_inline_image_with_an_html_body() {
        R r = new R();
        r.html = "<img src=\"cid:logo\">";
        r.attachments = List.of(MailRequest.Attachment.ofBytes(new byte[1], "logo.png", "image/png", "logo"));

        assertThat(validator.validate(r.build()).attachments()).hasSize(1);
    }

    @Test
    void rejects_a_content_id_with_characters_that_break_the_header() {
        R r = new R();
        r.html = "<p>x</p>";
        r.attachments = List.of(MailRequest.Attachment.ofBytes(new byte[1], "logo.png", "image/png", "lo>go"));

        assertSingleProblem(r, "attachments[0].contentId", "may use only letters, digits");
    }

    @Test
    void rejects_a_content_type_that_is_not_a_media_type() {
        R r = new R();
        r.attachments = List.of(MailRequest.Attachment.ofBytes(new byte[1], "a.pdf", "pdf", null));

        assertSingleProblem(r, "attachments[0].contentType", "'pdf' is not a media type");
    }

    // --- size -------------------------------------------------------------------------------------------

    @Test
    void rejects_attachments_over_the_size_limit_with_megabytes() {
        R r = new R();
        r.text = null;
        // 900 KB of bytes is 1.2 MB once base64-encoded: over the 1 MB limit
        r.attachments = List.of(bytes("a.bin", 450 * 1024), bytes("b.bin", 450 * 1024));

        assertSingleProblem(r, "attachments", "about 1.2 MB once encoded, over the limit of 1.0 MB");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3, 56, 57, 58, 114, 1000, 65_536, 780_000})
    void the_size_estimate_of_an_attachment_is_what_jakarta_mail_writes(int size) throws Exception {
        java.io.ByteArrayOutputStream written = new java.io.ByteArrayOutputStream();
        try (java.io.OutputStream base64 = jakarta.mail.internet.MimeUtility.encode(written, "base64")) {
            base64.write(new byte[size]);
        }

        assertThat(MailRequestValidator.base64Size(size)).isEqualTo(written.size());
    }

    @Test
    void counts_the_line_breaks_of_base64_towards_the_size_limit() {
        R r = new R();
        r.text = null;
        // 1,040,000 base64 characters fit the 1 MB limit (1,048,576); with a CRLF after every 76 they do not
        r.attachments = List.of(bytes("a.bin", 780_000));

        assertSingleProblem(r, "attachments", "1,067,370 bytes once encoded, over the limit of 1,048,576 bytes");
    }

    @Test
    void counts_attachment_files_on_disk_towards_the_size_limit() throws IOException {
        Path big = tmp.resolve("big.bin");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(2 * 1024 * 1024);
        }
        R r = new R();
        r.attachments = List.of(MailRequest.Attachment.ofFile(big, "big.bin", null, null));

        assertSingleProblem(r, "attachments", "about 2.7 MB once encoded, over the limit of 1.0 MB");
    }

    @Test
    void accepts_attachments_whose_encoded_size_fits() {
        R r = new R();
        r.attachments = List.of(bytes("a.bin", 700 * 1024));

        assertThat(validator.validate(r.build()).attachments()).hasSize(1);
    }

    @Test
    void rejects_an_eml_larger_than_the_limit() throws IOException {
        Path eml = tmp.resolve("big.eml");
        String headers = "From: sender@example.com\r\nTo: alice@example.com\r\nSubject: big\r\n\r\n";
        Files.writeString(eml, headers + "x".repeat(3 * 1024 * 1024 / 2), StandardCharsets.US_ASCII);
        MailRequest request = MailRequestReader.fromEml(eml);

        Throwable thrown = catchThrowable(() -> validator.validate(request));

        assertThat(thrown).isInstanceOfSatisfying(InvalidRequestException.class, e -> assertThat(e.problems())
                .singleElement().satisfies(p -> {
                    assertThat(p.field()).isEqualTo("(message)");
                    assertThat(p.message()).contains("is 1.5 MB, over the limit of 1.0 MB");
                }));
    }

    @Test
    void accepts_an_eml_within_the_limit_without_asking_for_text() throws IOException {
        Path eml = Files.writeString(tmp.resolve("ok.eml"),
                "From: sender@example.com\r\nTo: alice@example.com\r\nSubject: ok\r\n\r\nBody\r\n");

        MailRequest valid = validator.validate(MailRequestReader.fromEml(eml));

        assertThat(valid.rawMessage()).isEqualTo(eml);
    }

    @Test
    void reports_every_problem_at_once() {
        R r = new R();
        r.from = "nobody";
        r.to = List.of("bob@");
        r.subject = "a\nb";
        r.headers = Map.of("Subject", "x");

        assertThat(problems(r)).extracting(Problem::field)
                .containsExactlyInAnyOrder("from", "to[0]", "subject", "headers.Subject");
    }
}
