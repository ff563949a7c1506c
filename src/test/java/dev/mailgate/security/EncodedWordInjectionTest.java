package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.support.Http;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * RFC 2047 encoded words are plain ASCII, so they pass a check for line breaks and go out as they are; the mail client
 * then decodes {@code =?utf-8?q?x=0D=0ABcc:...?=} into a line break in the subject it shows, stores or forwards.
 * Raw VT, FF, ESC, SOH, DEL and C1 characters do the same without encoding. Both are refused, with the field named,
 * in subjects, display names, attachment file names and custom header values of JSON requests, and in the Subject
 * and the address display names of {@code .eml} messages. TAB stays allowed in a subject and a custom header value:
 * it is folding white space there, shown as a space, and cannot start a line.
 */
class EncodedWordInjectionTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PDF = "JVBERi0xLjQKJSVFT0YK";

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant();

    /** What the attack hides: a control character, encoded or not. */
    enum Payload {
        Q_ENCODED_CRLF("=?utf-8?q?x=0D=0ABcc:_victim@evil.example?=", "U+000D"),
        B_ENCODED_LF("=?UTF-8?B?" + Base64.getEncoder().encodeToString("x\nBcc: victim@evil.example"
                .getBytes(StandardCharsets.UTF_8)) + "?=", "U+000A"),
        /** Inside other text, not separated by white space: lenient decoders decode it all the same. */
        Q_ENCODED_ESC_INSIDE_A_WORD("Invoice=?iso-8859-1?Q?=1B[2J?=7", "U+001B"),
        Q_ENCODED_NEL("=?utf-8?q?x=C2=85y?=", "U+0085"),
        RAW_VT("x\u000By", "U+000B"),
        RAW_FF("x\u000Cy", "U+000C"),
        RAW_ESC("x\u001B[2Jy", "U+001B"),
        RAW_SOH("x\u0001y", "U+0001"),
        RAW_DEL("x\u007Fy", "U+007F"),
        RAW_C1_CSI("x\u009B2Jy", "U+009B");

        final String text;
        final String code;

        Payload(String text, String code) {
            this.text = text;
            this.code = code;
        }
    }

    @ParameterizedTest
    @EnumSource(Payload.class)
    void in_the_subject(Payload p) {
        assertRefused(base().put("subject", "Invoice " + p.text), "subject", p);
    }

    @ParameterizedTest
    @EnumSource(Payload.class)
    void in_a_recipient_display_name(Payload p) {
        ObjectNode request = base();
        request.putArray("to").add("\"Alice " + p.text + "\" <alice@example.com>");
        assertRefused(request, "to[0]", p);
    }

    @ParameterizedTest
    @EnumSource(Payload.class)
    void in_the_sender_display_name(Payload p) {
        assertRefused(base().put("from", "Billing " + p.text + " <billing@contoso.test>"), "from", p);
    }

    @ParameterizedTest
    @EnumSource(Payload.class)
    void in_an_attachment_file_name(Payload p) {
        ObjectNode request = base();
        request.putArray("attachments").addObject().put("filename", "invoice" + p.text + ".pdf").put("content", PDF);
        assertRefused(request, "attachments[0].filename", p);
    }

    @ParameterizedTest
    @EnumSource(Payload.class)
    void in_a_custom_header_value(Payload p) {
        ObjectNode request = base();
        request.putObject("headers").put("X-Order-Id", "7 " + p.text);
        assertRefused(request, "headers.X-Order-Id", p);
    }

    @Test
    void in_template_data_rendered_into_the_subject_after_validation() {
        ObjectNode request = JSON.createObjectNode().put("to", "alice@example.com").put("template", "welcome");
        request.putObject("data").put("name", "Alice =?utf-8?q?x=0D=0ABcc:_victim@evil.example?=")
                .put("account", "a-1");

        HttpResponse<String> response = mailgate.http().postJson(MailgateExtension.API_KEY, request.toString());

        // accepted (the subject is made when the mail is composed), then failed as invalid, naming data
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        String id = Http.json(response).path("id").asText();
        dev.mailgate.outcome.Journal.Entry entry = mailgate.gateway().awaitState(id,
                dev.mailgate.outcome.Journal.State.FAILED);
        assertThat(entry.failureCategory()).isEqualTo("invalid-request");
        assertThat(entry.failureReason()).contains("data:", "welcome", "U+000D");
        assertThat(mailgate.smtp().received()).noneMatch(r -> r.text().contains("victim@evil.example"));
    }

    @Test
    void a_tab_in_a_subject_and_in_a_custom_header_value_is_kept() {
        ObjectNode request = base().put("subject", "Invoice\t7");
        request.putObject("headers").put("X-Order-Id", "7\t8");

        HttpResponse<String> response = mailgate.http().postJson(MailgateExtension.API_KEY, request.toString());

        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        String id = Http.json(response).path("id").asText();
        mailgate.gateway().awaitState(id, dev.mailgate.outcome.Journal.State.SENT);
        TestSmtpServer.Received mail = mailgate.smtp().received().stream()
                .filter(r -> r.text().contains("X-Mailgate-Id: " + id)).findFirst().orElseThrow();
        assertThat(mail.text()).contains("Subject: Invoice\t7\r\n", "X-Order-Id: 7\t8\r\n");
    }

    @Test
    void an_encoded_line_break_in_an_eml_subject_is_refused() {
        assertEmlRefused("subject.eml", "From: sender@contoso.test\r\nTo: alice@example.com\r\n"
                + "Subject: =?utf-8?q?Invoice=0D=0ABcc:_victim@evil.example?=\r\n\r\nHi\r\n", "subject", "U+000D");
    }

    @Test
    void a_raw_escape_in_an_eml_subject_is_refused() {
        assertEmlRefused("subject-esc.eml", "From: sender@contoso.test\r\nTo: alice@example.com\r\n"
                + "Subject: Invoice \u001B[2J7\r\n\r\nHi\r\n", "subject", "U+001B");
    }

    @Test
    void an_encoded_control_in_an_eml_display_name_is_refused() {
        assertEmlRefused("names.eml", "From: =?utf-8?q?Billing=0D=0ABcc:_victim@evil.example?= "
                + "<sender@contoso.test>\r\nTo: alice@example.com\r\n"
                + "Cc: =?utf-8?b?" + Base64.getEncoder().encodeToString("Carol\u001B[2J".getBytes(StandardCharsets.UTF_8))
                + "?= <carol@example.com>\r\nSubject: names\r\n\r\nHi\r\n", "from", null);
        JsonNode error = mailgate.gateway().awaitFailed("names.eml");
        assertThat(error.path("errors")).extracting(e -> e.path("field").asText()).contains("from", "cc[0]");
    }

    private static ObjectNode base() {
        return JSON.createObjectNode().put("to", "alice@example.com").put("subject", "Hello").put("text", "Hi");
    }

    private static void assertRefused(ObjectNode request, String field, Payload p) {
        HttpResponse<String> response = mailgate.http().postJson(MailgateExtension.API_KEY, request.toString());

        assertThat(response.statusCode()).as("%s in %s: %s", p, field, response.body()).isEqualTo(400);
        JsonNode errors = Http.json(response).path("errors");
        assertThat(errors).as("%s in %s", p, field).anySatisfy(e -> {
            assertThat(e.path("field").asText()).isEqualTo(field);
            assertThat(e.path("message").asText()).contains(p.code);
        });
        // named by its code, never written, not even JSON-escaped
        assertThat(response.body()).doesNotContainIgnoringCase("\\u" + p.code.substring(2));
    }

    private static void assertEmlRefused(String name, String eml, String field, String code) {
        mailgate.gateway().drop(name, eml.getBytes(StandardCharsets.UTF_8));

        JsonNode error = mailgate.gateway().awaitFailed(name);

        assertThat(error.path("category").asText()).isEqualTo("invalid-request");
        assertThat(error.path("errors")).anySatisfy(e -> {
            assertThat(e.path("field").asText()).isEqualTo(field);
            if (code != null) {
                assertThat(e.path("message").asText()).contains(code);
            }
        });
        assertThat(mailgate.smtp().received()).noneMatch(r -> r.text().contains("victim@evil.example"));
    }
}
