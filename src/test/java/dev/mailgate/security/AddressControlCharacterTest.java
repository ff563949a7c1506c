package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.support.Http;
import dev.mailgate.support.MailgateExtension;

/**
 * Control characters inside addresses: {@code "x\u0001auth=Bearer evil"@contoso.test} passed the validator (a quoted
 * local part may hold almost anything), reached the SASL XOAUTH2 {@code user=} and the {@code RCPT TO} line, and
 * held the mailbox with a red health check for ever. C0 (TAB included), DEL and C1 characters are refused anywhere
 * in an address, quoted parts and display names included, in every address field, with the field named; the error
 * names the character by its code and never prints it.
 */
class AddressControlCharacterTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant();

    /** The characters of the attack: every one a control character that is not a line break. */
    enum Control {
        SOH('\u0001'), TAB('\t'), VT('\u000B'), FF('\u000C'), ESC('\u001B'), DEL('\u007F'), PAD('\u0080'),
        CSI('\u009B'), APC('\u009F');

        final char c;

        Control(char c) {
            this.c = c;
        }

        String code() {
            return String.format("U+%04X", (int) c);
        }
    }

    /** Where an address goes in a request, and the field an error must name. */
    enum Field {
        FROM("from", "from"), TO("to", "to[0]"), CC("cc", "cc[0]"), BCC("bcc", "bcc[0]"),
        REPLY_TO("replyTo", "replyTo[0]");

        final String name;
        final String path;

        Field(String name, String path) {
            this.name = name;
            this.path = path;
        }
    }

    @Test
    void the_xoauth2_user_injection_through_a_quoted_sender_is_refused_before_any_auth_and_holds_nothing() {
        HttpResponse<String> response = post(request(Field.FROM, "\"x\u0001auth=Bearer evil\"@contoso.test"));

        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        JsonNode problem = Http.json(response).path("errors").get(0);
        assertThat(problem.path("field").asText()).isEqualTo("from");
        assertThat(problem.path("message").asText()).contains("U+0001").doesNotContain("\u0001");
        assertThat(mailgate.smtp().saslResponses()).noneMatch(sasl -> sasl.contains("evil"));
        HttpResponse<String> health = mailgate.http().get(MailgateExtension.API_KEY, "/api/v1/health");
        assertThat(health.statusCode()).as(health.body()).isEqualTo(200);
    }

    @ParameterizedTest
    @EnumSource(Field.class)
    void a_control_character_in_a_quoted_local_part_is_refused_naming_the_field(Field field) {
        for (Control control : Control.values()) {
            assertRefused(field, "\"x" + control.c + "y\"@contoso.test", control);
        }
    }

    @ParameterizedTest
    @EnumSource(Field.class)
    void a_control_character_in_a_display_name_is_refused_naming_the_field(Field field) {
        for (Control control : Control.values()) {
            assertRefused(field, "Billing" + control.c + "Dept <billing@contoso.test>", control);
            assertRefused(field, "\"Billing" + control.c + "Dept\" <billing@contoso.test>", control);
        }
    }

    @Test
    void a_control_character_in_an_eml_header_address_is_refused_naming_the_header_field() {
        String eml = "From: sender@contoso.test\r\n"
                + "To: \"x\u0001auth=Bearer evil\"@example.com\r\n"
                + "Cc: \"Carol\u001B[2J\" <carol@example.com>\r\n"
                + "Subject: control characters\r\n"
                + "\r\n"
                + "Hi\r\n";
        mailgate.gateway().drop("control.eml", eml.getBytes(StandardCharsets.UTF_8));

        JsonNode error = mailgate.gateway().awaitFailed("control.eml");

        assertThat(error.path("category").asText()).isEqualTo("invalid-request");
        assertThat(error.path("errors")).extracting(e -> e.path("field").asText()).contains("to[0]", "cc[0]");
        assertThat(error.toString()).doesNotContain("\\u0001", "\\u001B");
        assertThat(mailgate.smtp().received()).noneMatch(r -> r.text().contains("control characters"));
    }

    private static void assertRefused(Field field, String address, Control control) {
        HttpResponse<String> response = post(request(field, address));

        assertThat(response.statusCode()).as("%s in %s: %s", control, field, response.body()).isEqualTo(400);
        List<JsonNode> errors = List.copyOf(Http.json(response).path("errors").findParents("field"));
        assertThat(errors).as("%s in %s", control, field).anySatisfy(e -> {
            assertThat(e.path("field").asText()).isEqualTo(field.path);
            assertThat(e.path("message").asText()).contains(control.code());
        });
        assertThat(response.body()).doesNotContain(String.valueOf(control.c))
                .doesNotContainIgnoringCase("\\u" + control.code().substring(2));
    }

    /** A request valid but for {@code address} in {@code field}. */
    private static String request(Field field, String address) {
        ObjectNode request = JSON.createObjectNode().put("subject", "control in " + field).put("text", "Hi");
        if (field != Field.TO) {
            request.put("to", "alice@example.com");
        }
        if (field == Field.FROM) {
            request.put("from", address);
        } else {
            request.putArray(field.name).add(address);
        }
        return request.toString();
    }

    private static HttpResponse<String> post(String json) {
        return mailgate.http().postJson(MailgateExtension.API_KEY, json);
    }
}
