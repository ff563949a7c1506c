package dev.mailgate.request;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import jakarta.mail.internet.AddressException;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class MailRequestReaderTest {

    @TempDir
    Path tmp;

    private AttachmentRoot root;

    @BeforeEach
    void setUp() throws IOException {
        root = new AttachmentRoot(Files.createDirectories(tmp.resolve("attachments")));
    }

    private MailRequest read(String json) {
        return MailRequestReader.fromJson(new ByteArrayInputStream(json.getBytes(UTF_8)), root);
    }

    private static List<Problem> problems(ThrowingCallable call) {
        Throwable thrown = catchThrowable(call);
        assertThat(thrown).isInstanceOf(InvalidRequestException.class);
        return ((InvalidRequestException) thrown).problems();
    }

    private static void assertSingleProblem(List<Problem> problems, String field, String phrase) {
        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.field()).isEqualTo(field);
            assertThat(p.message()).contains(phrase);
        });
    }

    // --- JSON shape -------------------------------------------------------------------------------------

    @Test
    void reads_a_single_address_string_as_a_one_element_list() {
        MailRequest r = read("""
                {"to": "alice@example.com", "cc": "Bob <bob@example.com>", "subject": "Hi", "text": "Hello"}""");

        assertThat(r.to()).containsExactly("alice@example.com");
        assertThat(r.cc()).containsExactly("Bob <bob@example.com>");
        assertThat(r.subject()).isEqualTo("Hi");
        assertThat(r.text()).isEqualTo("Hello");
    }

    @Test
    void reads_an_array_of_addresses_in_order() {
        MailRequest r = read("""
                {"to": ["a@example.com", "b@example.com"], "bcc": ["c@example.com"], "replyTo": ["d@example.com"]}""");

        assertThat(r.to()).containsExactly("a@example.com", "b@example.com");
        assertThat(r.bcc()).containsExactly("c@example.com");
        assertThat(r.replyTo()).containsExactly("d@example.com");
        assertThat(r.recipientCount()).isEqualTo(3);
    }

    @Test
    void reads_data_headers_template_and_idempotency_key() {
        MailRequest r = read("""
                {"to": "a@example.com", "template": "welcome", "data": {"name": "Bob", "items": ["x", "y"]},
                 "headers": {"X-Campaign": "onboarding"}, "idempotencyKey": "k-1"}""");

        assertThat(r.template()).isEqualTo("welcome");
        assertThat(r.data()).containsEntry("name", "Bob").containsEntry("items", List.of("x", "y"));
        assertThat(r.headers()).containsExactly(Map.entry("X-Campaign", "onboarding"));
        assertThat(r.idempotencyKey()).isEqualTo("k-1");
        assertThat(r.isRaw()).isFalse();
    }

    @ParameterizedTest
    @ValueSource(strings = {"reply_to", "ReplyTo", "reply-to"})
    void reports_unknown_field_by_name_with_a_did_you_mean(String name) {
        List<Problem> problems = problems(
                () -> read("{\"to\": \"a@example.com\", \"" + name + "\": \"b@example.com\"}"));

        assertSingleProblem(problems, name, "is not a MailRequest field (did you mean 'replyTo'?)");
    }

    @Test
    void reports_unknown_field_without_suggestion_but_with_the_known_fields() {
        List<Problem> problems = problems(() -> read("{\"to\": \"a@example.com\", \"colour\": \"blue\"}"));

        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.field()).isEqualTo("colour");
            assertThat(p.message()).doesNotContain("did you mean").contains("known fields: from, to, cc");
        });
    }

    @Test
    void reports_a_number_where_addresses_are_expected() {
        assertSingleProblem(problems(() -> read("{\"to\": 5}")), "to",
                "must be an address or a list of addresses, not a number");
    }

    @Test
    void reports_a_non_string_inside_an_address_list_with_its_index() {
        assertSingleProblem(problems(() -> read("{\"to\": [\"a@example.com\", true]}")), "to[1]",
                "must be an address string, not true/false");
    }

    @Test
    void reports_an_array_where_data_must_be_an_object() {
        assertSingleProblem(problems(() -> read("{\"to\": \"a@example.com\", \"data\": []}")), "data",
                "must be an object of template values, not an array");
    }

    @Test
    void reports_a_non_string_header_value_with_the_header_name_in_the_path() {
        assertSingleProblem(problems(() -> read("{\"to\": \"a@example.com\", \"headers\": {\"X-A\": 1}}")),
                "headers.X-A", "must be a string, not a number");
    }

    @Test
    void reports_a_non_string_subject() {
        assertSingleProblem(problems(() -> read("{\"to\": \"a@example.com\", \"subject\": {\"a\": 1}}")),
                "subject", "must be a string, not an object");
    }

    @Test
    void reports_invalid_json_with_line_and_column() {
        List<Problem> problems = problems(() -> read("{\n  \"to\": \"a@example.com\",\n  \"subject\": oops\n}"));

        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.field()).isEqualTo("(request)");
            assertThat(p.message()).contains("is not valid JSON at line 3, column");
        });
    }

    @Test
    void reports_a_duplicate_field_as_invalid_json() {
        List<Problem> problems = problems(() -> read("{\"to\": \"a@example.com\", \"to\": \"b@example.com\"}"));

        assertSingleProblem(problems, "(request)", "a field name appears twice in the same object");
    }

    /**
     * A document that is not JSON may be anything (an outbox link to a secret file, a password pasted into the wrong
     * place): the error names the position and the kind of error, and repeats nothing of it.
     */
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "Sup3rSecret-Pa55                      | line 1, column 1  | a bare word where a value should be",
            "{\"to\": Sup3rSecret-Pa55}            | line 1, column 8  | a bare word where a value should be",
            "{Sup3rSecret-Pa55: 1}                 | line 1, column 2  | a field name without double quotes",
            "{\"to\": 1} Sup3rSecret-Pa55          | line 1, column   | a bare word",
            "{\"to\": \"x\" Sup3rSecret-Pa55}     | line 1, column   | a comma is missing",
            "{\"Sup3rSecret-Pa55\": 1, \"Sup3rSecret-Pa55\": 2} | line 1, column | appears twice",
            "{\"to\": \"Sup3rSecret-Pa55          | line 1, column   | the document ends too early",
            "`'Sup3rSecret-Pa55'`                  | line 1, column 1  | not a JSON value",
            "{\"to\": \"\\Sup3rSecret-Pa55\"}     | line 1, column   | a backslash escape JSON does not know",
            "//Sup3rSecret-Pa55                    | line 1, column 1  | JSON has no comments"})
    void invalid_json_is_reported_by_position_and_kind_without_quoting_the_document(String json, String where,
            String kind) {
        List<Problem> problems = problems(() -> read(json));

        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.field()).isEqualTo("(request)");
            assertThat(p.message()).startsWith("is not valid JSON at " + where).contains(kind)
                    .doesNotContain("Sup3r").doesNotContain("Pa55").doesNotContain("'S'");
        });
    }

    @Test
    void invalid_utf8_is_reported_without_the_byte() {
        byte[] json = {'{', '"', 't', 'o', '"', ':', '"', (byte) 0xff, '"', '}'};

        List<Problem> problems = problems(() -> MailRequestReader.fromJson(new ByteArrayInputStream(json), root));

        assertSingleProblem(problems, "(request)", "bytes that are not UTF-8");
        assertThat(problems.get(0).message()).doesNotContainIgnoringCase("0xff");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   \n  "})
    void reports_empty_input_with_an_example_of_a_request(String input) {
        assertSingleProblem(problems(() -> read(input)), "(request)", "is empty; write a JSON object such as");
    }

    @Test
    void reports_a_second_document_after_the_request_as_invalid_json() {
        List<Problem> problems = problems(() -> read("{\"to\": \"a@example.com\", \"text\": \"x\"} {\"to\": 1}"));

        assertSingleProblem(problems, "(request)", "is not valid JSON");
    }

    @Test
    void a_string_longer_than_the_message_limit_is_a_size_error_naming_its_field_and_the_limit() {
        String base64 = "A".repeat(2048);
        String json = "{\"to\": \"a@example.com\", \"text\": \"x\", \"attachments\": [{\"filename\": \"a.bin\", "
                + "\"content\": \"QQ==\"}, {\"filename\": \"b.bin\", \"content\": \"" + base64 + "\"}]}";

        List<Problem> problems = problems(() -> MailRequestReader.fromJson(
                new ByteArrayInputStream(json.getBytes(UTF_8)), root, 1024));

        assertSingleProblem(problems, "attachments[1].content", "(mailgate.limits.max-message-size)");
        assertThat(problems.get(0).message()).contains("1,024 characters").doesNotContain("AAAA");
        assertSingleProblem(problems(() -> MailRequestReader.fromJson(new ByteArrayInputStream(
                ("{\"text\": \"" + base64 + "\"}").getBytes(UTF_8)), root, 1024)), "text", "longer than any message");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "[\"a@example.com\"] | not an array",
            "\"hello\"           | not a string",
            "42                  | not a number"})
    void reports_a_document_that_is_not_an_object(String json, String kind) {
        assertSingleProblem(problems(() -> read(json)), "(request)", "must be a JSON object {...}, " + kind);
    }

    @Test
    void reports_several_problems_together_in_one_exception() {
        List<Problem> problems = problems(() -> read("""
                {"to": 5, "reply_to": "x@example.com", "data": [], "priority": "urgent",
                 "headers": {"X-A": 1}}"""));

        assertThat(problems).extracting(Problem::field)
                .containsExactlyInAnyOrder("reply_to", "to", "data", "priority", "headers.X-A");
    }

    // --- attachments ------------------------------------------------------------------------------------

    @Test
    void decodes_a_base64_attachment() {
        String content = Base64.getEncoder().encodeToString("hello, world".getBytes(UTF_8));

        MailRequest r = read("{\"to\": \"a@example.com\", \"attachments\": [{\"filename\": \"hello.txt\", "
                + "\"content\": \"" + content + "\", \"contentType\": \"text/plain\"}]}");

        assertThat(r.attachments()).singleElement().satisfies(a -> {
            assertThat(a.filename()).isEqualTo("hello.txt");
            assertThat(a.contentType()).isEqualTo("text/plain");
            assertThat(a.file()).isNull();
            assertThat(new String(a.content(), UTF_8)).isEqualTo("hello, world");
        });
    }

    @Test
    void decodes_base64_that_is_wrapped_over_several_lines() {
        byte[] bytes = new byte[200];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) i;
        }
        String wrapped = Base64.getMimeEncoder().encodeToString(bytes).replace("\r\n", "\\r\\n");

        MailRequest r = read("{\"to\": \"a@example.com\", \"attachments\": [{\"filename\": \"b.bin\", "
                + "\"content\": \"" + wrapped + "\"}]}");

        assertThat(r.attachments().get(0).content()).isEqualTo(bytes);
    }

    @Test
    void resolves_an_attachment_path_in_the_attachment_root() throws IOException {
        Path file = Files.writeString(root.path().resolve("report.pdf"), "%PDF-1.4");

        MailRequest r = read("{\"to\": \"a@example.com\", \"attachments\": [{\"path\": \"report.pdf\"}]}");

        assertThat(r.attachments()).singleElement().satisfies(a -> {
            assertThat(a.file()).isEqualTo(file.toRealPath());
            assertThat(a.filename()).isEqualTo("report.pdf");
            assertThat(a.content()).isNull();
        });
    }

    @Test
    void reports_an_attachment_path_outside_the_root_with_its_field_path() {
        List<Problem> problems = problems(() -> read(
                "{\"to\": \"a@example.com\", \"attachments\": [{\"path\": \"../secret.txt\"}]}"));

        assertSingleProblem(problems, "attachments[0].path", "climbs out with '..'");
    }

    @Test
    void rejects_attachment_with_both_path_and_content() throws IOException {
        Files.writeString(root.path().resolve("a.txt"), "a");

        List<Problem> problems = problems(() -> read("{\"to\": \"a@example.com\", \"attachments\": [{\"path\": "
                + "\"a.txt\", \"filename\": \"a.txt\", \"content\": \"YQ==\"}]}"));

        assertSingleProblem(problems, "attachments[0]", "not both");
    }

    @Test
    void rejects_attachment_with_neither_path_nor_content() {
        List<Problem> problems = problems(() -> read(
                "{\"to\": \"a@example.com\", \"attachments\": [{\"filename\": \"a.txt\"}]}"));

        assertSingleProblem(problems, "attachments[0]", "not neither");
    }

    @Test
    void rejects_content_without_a_filename() {
        List<Problem> problems = problems(() -> read(
                "{\"to\": \"a@example.com\", \"attachments\": [{\"content\": \"YQ==\"}]}"));

        assertSingleProblem(problems, "attachments[0].filename", "is required with \"content\"");
    }

    @ParameterizedTest
    @ValueSource(strings = {"@@@@", "not*base64*at*all", "data:application/pdf;base64,JVBERi0=", "YQ=x"})
    void rejects_content_that_is_not_base64(String content) {
        List<Problem> problems = problems(() -> read("{\"to\": \"a@example.com\", \"attachments\": "
                + "[{\"filename\": \"a.pdf\", \"content\": \"" + content + "\"}]}"));

        assertSingleProblem(problems, "attachments[0].content", "is not valid base64");
    }

    @Test
    void a_base64_error_names_the_position_of_the_bad_character_not_the_character() {
        List<Problem> problems = problems(() -> read("{\"to\": \"a@example.com\", \"attachments\": "
                + "[{\"filename\": \"a.pdf\", \"content\": \"QUJD~REVG\"}]}"));

        assertSingleProblem(problems, "attachments[0].content", "character 5 is not one of A-Z, a-z, 0-9, + and /");
        assertThat(problems.get(0).message()).doesNotContain("~").doesNotContain(" 7e");
    }

    @Test
    void reports_an_unknown_attachment_field_with_its_path() {
        List<Problem> problems = problems(() -> read("{\"to\": \"a@example.com\", \"attachments\": "
                + "[{\"filename\": \"a.txt\", \"content\": \"YQ==\", \"name\": \"x\"}]}"));

        assertSingleProblem(problems, "attachments[0].name", "is not an attachment field");
    }

    // --- priority ---------------------------------------------------------------------------------------

    @ParameterizedTest
    @CsvSource({"high,HIGH", "HIGH,HIGH", "normal,NORMAL", "Low,LOW"})
    void parses_priority_case_insensitively(String given, MailRequest.Priority expected) {
        MailRequest r = read("{\"to\": \"a@example.com\", \"priority\": \"" + given + "\"}");

        assertThat(r.priority()).isEqualTo(expected);
    }

    @Test
    void defaults_priority_to_normal() {
        assertThat(read("{\"to\": \"a@example.com\"}").priority()).isEqualTo(MailRequest.Priority.NORMAL);
    }

    @Test
    void rejects_an_unknown_priority_naming_the_choices() {
        assertSingleProblem(problems(() -> read("{\"to\": \"a@example.com\", \"priority\": \"urgent\"}")),
                "priority", "'urgent' is not a priority; use high, normal or low");
    }

    // --- .eml -------------------------------------------------------------------------------------------

    private Path eml(String text) throws IOException {
        return Files.writeString(tmp.resolve("message.eml"), text.replace("\n", "\r\n"), UTF_8);
    }

    @Test
    void reads_addresses_and_subject_from_an_eml_header_block() throws IOException {
        Path file = eml("""
                From: Sender <sender@example.com>
                To: alice@example.com, "Bob B" <bob@example.com>
                Cc: carol@example.com
                Bcc: audit@example.com
                Reply-To: replies@example.com
                Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=

                Body text
                """);

        MailRequest r = MailRequestReader.fromEml(file);

        assertThat(r.from()).isEqualTo("Sender <sender@example.com>");
        assertThat(r.to()).containsExactly("alice@example.com", "Bob B <bob@example.com>");
        assertThat(r.cc()).containsExactly("carol@example.com");
        assertThat(r.replyTo()).containsExactly("replies@example.com");
        assertThat(r.subject()).isEqualTo("Grüße");
        assertThat(r.rawMessage()).isEqualTo(file);
        assertThat(r.isRaw()).isTrue();
    }

    @Test
    void keeps_eml_bcc_as_a_recipient() throws IOException {
        Path file = eml("""
                From: sender@example.com
                To: alice@example.com
                Bcc: audit@example.com, archive@example.com

                Body
                """);

        MailRequest r = MailRequestReader.fromEml(file);

        assertThat(r.bcc()).containsExactly("audit@example.com", "archive@example.com");
        assertThat(r.recipientCount()).isEqualTo(3);
    }

    @Test
    void reads_undisclosed_recipients_group_as_no_recipients() throws IOException {
        Path file = eml("""
                From: sender@example.com
                To: undisclosed-recipients:;
                Subject: x

                Body
                """);

        MailRequest r = MailRequestReader.fromEml(file);

        assertThat(r.to()).isEmpty();
        assertThat(r.recipientCount()).isZero();
    }

    @Test
    void reads_the_members_of_an_address_group() throws IOException {
        Path file = eml("""
                From: sender@example.com
                To: team: a@example.com, b@example.com;
                Subject: x

                Body
                """);

        assertThat(MailRequestReader.fromEml(file).to()).containsExactly("a@example.com", "b@example.com");
    }

    @Test
    void rejects_an_eml_file_without_headers() throws IOException {
        Path file = eml("""
                Just a note someone saved as .eml,
                without any message headers.
                """);

        assertSingleProblem(problems(() -> MailRequestReader.fromEml(file)), "(message)",
                "has no From, To or Subject header");
    }

    /**
     * Jakarta Mail's AddressException carries the whole header ({@code toString()} quotes it); in header mode its parser
     * is lenient and hardly ever throws (a fuzz of 200,000 short strings never made it), but if it does, only its fixed
     * phrase and the position are reported.
     */
    @Test
    void an_address_header_error_names_the_kind_and_position_without_quoting_the_header() {
        String header = "Sup3rSecret-Pa55 <c@example.com";

        assertThat(ParseErrors.addressError(new AddressException("Missing '>'", header, 30)))
                .isEqualTo("Missing '>' at position 31");
        assertThat(ParseErrors.addressError(new AddressException("Illegal address Sup3rSecret-Pa55", header, 0)))
                .isEqualTo("an address syntax error at position 1");
    }

    @Test
    void rejects_an_eml_from_header_with_two_mailboxes() throws IOException {
        Path file = eml("""
                From: a@example.com, b@example.com
                To: c@example.com

                Body
                """);

        assertSingleProblem(problems(() -> MailRequestReader.fromEml(file)), "From", "names 2 addresses");
    }

    // --- plain files ------------------------------------------------------------------------------------

    @Test
    void puts_file_name_base_name_and_size_into_data_and_attaches_the_file() throws IOException {
        Path file = Files.write(tmp.resolve("invoice-2024.06.pdf"), new byte[1234]);
        MailRequestReader.FileMail route = new MailRequestReader.FileMail("sender@example.com",
                List.of("finance@example.com"), List.of(), List.of("audit@example.com"),
                "Invoice ${file.baseName}", null, "report", Map.of("company", "ACME"));

        MailRequest r = MailRequestReader.forFile(file, route);

        assertThat(r.data()).containsEntry("company", "ACME");
        assertThat(r.data().get("file")).isEqualTo(Map.of("name", "invoice-2024.06.pdf",
                "baseName", "invoice-2024.06", "size", 1234L));
        assertThat(r.attachments()).singleElement().satisfies(a -> {
            assertThat(a.file()).isEqualTo(file);
            assertThat(a.filename()).isEqualTo("invoice-2024.06.pdf");
        });
        assertThat(r.from()).isEqualTo("sender@example.com");
        assertThat(r.to()).containsExactly("finance@example.com");
        assertThat(r.bcc()).containsExactly("audit@example.com");
        assertThat(r.template()).isEqualTo("report");
        assertThat(r.subject()).isEqualTo("Invoice ${file.baseName}");
    }

    @Test
    void uses_the_whole_name_as_base_name_for_a_dot_file() throws IOException {
        Path file = Files.writeString(tmp.resolve(".hidden"), "x");
        MailRequestReader.FileMail route = new MailRequestReader.FileMail(null, List.of("a@example.com"),
                List.of(), List.of(), null, "see attached", null, Map.of());

        MailRequest r = MailRequestReader.forFile(file, route);

        assertThat(r.data().get("file")).isEqualTo(Map.of("name", ".hidden", "baseName", ".hidden", "size", 1L));
    }

    @Test
    void rejects_a_plain_file_that_disappeared() {
        Path gone = tmp.resolve("gone.pdf");
        MailRequestReader.FileMail route = new MailRequestReader.FileMail(null, List.of("a@example.com"),
                List.of(), List.of(), null, "x", null, Map.of());

        assertSingleProblem(problems(() -> MailRequestReader.forFile(gone, route)), "(file)", "cannot be read");
    }
}
