package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Predicate;

import jakarta.mail.MessagingException;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Header injection through the outbox, end to end against the real gateway and a real STARTTLS + XOAUTH2 server.
 * Every value of a request that becomes a header (subject, display names, addresses, reply-to, custom headers,
 * attachment names) gets CR, LF, CRLF, NUL, U+0085, U+2028 or U+2029 followed by {@code Bcc: victim@evil.example}
 * and {@code X-Injected: yes}. Each request must either be refused with an error that names the field, or go out
 * with the value encoded so that no extra header line appears: the raw DATA the server got is split into lines at
 * CRLF up to the first empty line, and no line may start with {@code Bcc:} or {@code X-Injected:}.
 * <p>
 * All requests are dropped at once when the class starts, so that the gateway works through them while the tests
 * wait for their own outcome.
 */
class HeaderInjectionTest {

    /** The header names an attack tries to add. */
    private static final String[] INJECTED = {"Bcc", "X-Injected"};
    private static final String VICTIM = "victim@evil.example";
    private static final String CONTROL = "wire-check-control";
    private static final String PDF = "JVBERi0xLjQKJSVFT0YK";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The characters that end a line somewhere: for SMTP, for a MIME parser, for a mail client or a log. */
    enum LineBreak {
        CR("\r", "CR"),
        LF("\n", "LF"),
        CRLF("\r\n", "CRLF"),
        NUL("\u0000", "NUL"),
        NEL("\u0085", "U+0085 NEXT LINE"),
        LS("\u2028", "U+2028 LINE SEPARATOR"),
        PS("\u2029", "U+2029 PARAGRAPH SEPARATOR");

        final String chars;
        private final String label;

        LineBreak(String chars, String label) {
            this.chars = chars;
            this.label = label;
        }

        /** The attack: the break, then two header lines of the attacker's. */
        String inject() {
            return chars + "Bcc: " + VICTIM + chars + "X-Injected: yes";
        }

        @Override
        public String toString() {
            return label;
        }
    }

    /** Where the attack goes in a MailRequest, and the field path an error must name if the request is refused. */
    enum Target {
        SUBJECT((r, x) -> r.put("subject", "Invoice 7" + x), b -> List.of("subject")),
        FROM_DISPLAY_NAME((r, x) -> r.put("from", "Billing" + x + " <" + Gateway.SENDER + ">"), b -> List.of("from")),
        FROM_QUOTED_DISPLAY_NAME((r, x) -> r.put("from", "\"Billing" + x + "\" <" + Gateway.SENDER + ">"),
                b -> List.of("from")),
        FROM_ADDRESS((r, x) -> r.put("from", Gateway.SENDER + x), b -> List.of("from")),
        TO_DISPLAY_NAME((r, x) -> r.putArray("to").add("Alice" + x + " <alice@example.com>"), b -> List.of("to[0]")),
        TO_QUOTED_DISPLAY_NAME((r, x) -> r.putArray("to").add("\"Alice" + x + "\" <alice@example.com>"),
                b -> List.of("to[0]")),
        TO_ADDRESS((r, x) -> r.putArray("to").add("ok@example.com").add("alice@example.com" + x),
                b -> List.of("to[1]")),
        TO_ADDRESS_INSIDE_ANGLE_BRACKETS((r, x) -> r.putArray("to").add("Alice <alice@example.com" + x + ">"),
                b -> List.of("to[0]")),
        CC_DISPLAY_NAME((r, x) -> r.putArray("cc").add("Carol" + x + " <carol@example.com>"), b -> List.of("cc[0]")),
        CC_ADDRESS((r, x) -> r.putArray("cc").add("carol@example.com" + x), b -> List.of("cc[0]")),
        BCC_ADDRESS((r, x) -> r.putArray("bcc").add("audit@example.com" + x), b -> List.of("bcc[0]")),
        REPLY_TO_DISPLAY_NAME((r, x) -> r.put("replyTo", "Support" + x + " <support@example.com>"),
                b -> List.of("replyTo[0]")),
        REPLY_TO_ADDRESS((r, x) -> r.put("replyTo", "support@example.com" + x), b -> List.of("replyTo[0]")),
        CUSTOM_HEADER_VALUE((r, x) -> ((ObjectNode) r.get("headers")).put("X-Order-Id", "7" + x),
                b -> List.of("headers.X-Order-Id")),
        /** The name {@code X-Order-Id: 7<break>Bcc: ...<break>X-Injected} with the value {@code yes}. */
        CUSTOM_HEADER_NAME((r, x) -> ((ObjectNode) r.get("headers")).put(headerNameAttack(x), "yes"),
                b -> List.of("headers." + headerNameAttack(b.inject()))),
        ATTACHMENT_FILENAME((r, x) -> r.putArray("attachments").addObject()
                .put("filename", "invoice" + x + ".pdf").put("content", PDF),
                b -> List.of("attachments[0].filename")),
        /** A file in the attachments folder whose own name carries the attack (no NUL: file names cannot). */
        ATTACHMENT_FILE_NAME_ON_DISK((r, x) -> r.putArray("attachments").addObject().put("path", "scan" + x + ".pdf"),
                b -> List.of("attachments[0].filename", "attachments[0].path")),
        ATTACHMENT_CONTENT_TYPE((r, x) -> r.putArray("attachments").addObject()
                .put("filename", "invoice.pdf").put("content", PDF).put("contentType", "application/pdf" + x),
                b -> List.of("attachments[0].contentType")),
        ATTACHMENT_CONTENT_ID((r, x) -> {
            r.put("html", "<img src=\"cid:logo\">");
            r.putArray("attachments").addObject().put("filename", "logo.png").put("content", PDF)
                    .put("contentId", "logo" + x);
        }, b -> List.of("attachments[0].contentId")),
        /** A template's subject ({@code Welcome, ${name}}) rendered from request data: not checked, encoded. */
        TEMPLATE_DATA_IN_THE_SUBJECT((r, x) -> {
            r.remove("subject");
            r.remove("text");
            r.put("template", "welcome");
            r.putObject("data").put("name", "Alice" + x).put("account", "a-1");
        }, b -> List.of("data", "subject"));

        private final BiConsumer<ObjectNode, String> attack;
        private final Function<LineBreak, List<String>> fields;

        Target(BiConsumer<ObjectNode, String> attack, Function<LineBreak, List<String>> fields) {
            this.attack = attack;
            this.fields = fields;
        }

        String caseId(LineBreak b) {
            return name().toLowerCase(java.util.Locale.ROOT) + "-" + b.name().toLowerCase(java.util.Locale.ROOT);
        }

        String file(LineBreak b) {
            return caseId(b) + ".json";
        }

        String request(LineBreak b) {
            ObjectNode r = JSON.createObjectNode();
            r.put("to", "alice@example.com");
            r.put("subject", "Invoice 7");
            r.put("text", "Your invoice is attached.");
            r.putObject("headers").put("X-Case", caseId(b));
            attack.accept(r, b.inject());
            return r.toString();
        }
    }

    private static String headerNameAttack(String injection) {
        return "X-Order-Id: 7" + injection.substring(0, injection.length() - ": yes".length());
    }

    @TempDir
    static Path dir;

    private static final SelfSignedCertificate TLS = SelfSignedCertificate.forLocalhost();
    private static TestEntra entra;
    private static TestSmtpServer smtp;
    private static Gateway gateway;
    /** File names the platform cannot give a file (e.g. U+2028 when the file system encoding is ASCII). */
    private static final Map<LineBreak, String> UNNAMEABLE = new EnumMap<>(LineBreak.class);

    @BeforeAll
    static void startAndDropEveryAttack() {
        entra = new TestEntra(TLS, null);
        smtp = TestSmtpServer.withStartTls(TLS.serverContext(), entra.tokens());
        gateway = Gateway.start(dir, Gateway.realTenant(dir, entra, smtp.port(), TLS));
        for (LineBreak b : LineBreak.values()) {
            if (b != LineBreak.NUL) {
                try {
                    gateway.attachment("scan" + b.inject() + ".pdf", "%PDF-1.4\n%%EOF\n".getBytes(StandardCharsets.UTF_8));
                } catch (InvalidPathException e) {
                    UNNAMEABLE.put(b, e.getMessage());
                }
            }
        }
        for (Target t : Target.values()) {
            for (LineBreak b : LineBreak.values()) {
                gateway.drop(t.file(b), t.request(b));
            }
        }
        for (LineBreak b : LineBreak.values()) {
            if (b != LineBreak.NUL && !UNNAMEABLE.containsKey(b)) {
                gateway.drop(routeFile(b), "%PDF-1.4\n%%EOF\n");
            }
        }
        gateway.drop("wire-check.eml", "From: " + Gateway.SENDER + "\r\nTo: control@example.com\r\n"
                + "Subject: control\r\nX-Case: " + CONTROL + "\r\nX-Injected: yes\r\n\r\nA header that is really there.\r\n");
    }

    @AfterAll
    static void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (smtp != null) {
            smtp.close();
        }
        if (entra != null) {
            entra.close();
        }
    }

    // --- the request fields -------------------------------------------------------------------------------

    @ParameterizedTest(name = "subject: \"Invoice 7\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_the_subject(LineBreak b) {
        assertRefusedOrEncoded(Target.SUBJECT, b);
    }

    @ParameterizedTest(name = "from: display name \"Billing\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_the_sender_display_name(LineBreak b) {
        assertRefusedOrEncoded(Target.FROM_DISPLAY_NAME, b);
    }

    @ParameterizedTest(name = "from: quoted display name \"Billing\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_the_sender_quoted_display_name(LineBreak b) {
        assertRefusedOrEncoded(Target.FROM_QUOTED_DISPLAY_NAME, b);
    }

    @ParameterizedTest(name = "from: address + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_the_sender_address(LineBreak b) {
        assertRefusedOrEncoded(Target.FROM_ADDRESS, b);
    }

    @ParameterizedTest(name = "to: display name \"Alice\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_a_recipient_display_name(LineBreak b) {
        assertRefusedOrEncoded(Target.TO_DISPLAY_NAME, b);
    }

    @ParameterizedTest(name = "to: quoted display name \"Alice\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_a_recipient_quoted_display_name(LineBreak b) {
        assertRefusedOrEncoded(Target.TO_QUOTED_DISPLAY_NAME, b);
    }

    @ParameterizedTest(name = "to[1]: address + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_a_recipient_address(LineBreak b) {
        assertRefusedOrEncoded(Target.TO_ADDRESS, b);
    }

    @ParameterizedTest(name = "to: <address + {0} + Bcc:/X-Injected: lines>")
    @EnumSource(LineBreak.class)
    void injection_inside_the_angle_brackets_of_a_recipient(LineBreak b) {
        assertRefusedOrEncoded(Target.TO_ADDRESS_INSIDE_ANGLE_BRACKETS, b);
    }

    @ParameterizedTest(name = "cc: display name \"Carol\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_a_cc_display_name(LineBreak b) {
        assertRefusedOrEncoded(Target.CC_DISPLAY_NAME, b);
    }

    @ParameterizedTest(name = "cc: address + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_a_cc_address(LineBreak b) {
        assertRefusedOrEncoded(Target.CC_ADDRESS, b);
    }

    @ParameterizedTest(name = "bcc: address + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_a_bcc_address(LineBreak b) {
        assertRefusedOrEncoded(Target.BCC_ADDRESS, b);
    }

    @ParameterizedTest(name = "replyTo: display name \"Support\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_the_reply_to_display_name(LineBreak b) {
        assertRefusedOrEncoded(Target.REPLY_TO_DISPLAY_NAME, b);
    }

    @ParameterizedTest(name = "replyTo: address + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_the_reply_to_address(LineBreak b) {
        assertRefusedOrEncoded(Target.REPLY_TO_ADDRESS, b);
    }

    @ParameterizedTest(name = "headers: X-Order-Id value \"7\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_a_custom_header_value(LineBreak b) {
        assertRefusedOrEncoded(Target.CUSTOM_HEADER_VALUE, b);
    }

    @ParameterizedTest(name = "headers: name \"X-Order-Id: 7\" + {0} + \"Bcc: ...\" + {0} + \"X-Injected\", value yes")
    @EnumSource(LineBreak.class)
    void injection_through_a_custom_header_name(LineBreak b) {
        assertRefusedOrEncoded(Target.CUSTOM_HEADER_NAME, b);
    }

    @ParameterizedTest(name = "attachments[0].filename: \"invoice\" + {0} + Bcc:/X-Injected: lines + \".pdf\"")
    @EnumSource(LineBreak.class)
    void injection_through_an_attachment_filename(LineBreak b) {
        assertRefusedOrEncoded(Target.ATTACHMENT_FILENAME, b);
    }

    @ParameterizedTest(name = "attachments[0].path: a file named \"scan\" + {0} + Bcc:/X-Injected: lines + \".pdf\"")
    @EnumSource(LineBreak.class)
    void injection_through_the_name_of_an_attachment_file_on_disk(LineBreak b) {
        assertRefusedOrEncoded(Target.ATTACHMENT_FILE_NAME_ON_DISK, b);
    }

    @ParameterizedTest(name = "attachments[0].contentType: \"application/pdf\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_an_attachment_content_type(LineBreak b) {
        assertRefusedOrEncoded(Target.ATTACHMENT_CONTENT_TYPE, b);
    }

    @ParameterizedTest(name = "attachments[0].contentId: \"logo\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_an_inline_image_content_id(LineBreak b) {
        assertRefusedOrEncoded(Target.ATTACHMENT_CONTENT_ID, b);
    }

    @ParameterizedTest(name = "template subject \"Welcome, $'{'name'}'\" with data.name \"Alice\" + {0} + Bcc:/X-Injected: lines")
    @EnumSource(LineBreak.class)
    void injection_through_template_data_rendered_into_the_subject(LineBreak b) {
        assertRefusedOrEncoded(Target.TEMPLATE_DATA_IN_THE_SUBJECT, b);
    }

    // --- plain files mailed by a folder route (routes/reports.yaml: subject "Report ${file.baseName}") -------

    @ParameterizedTest(name = "outbox/reports/ file named \"scan\" + {0} + Bcc:/X-Injected: lines + \".pdf\"")
    @EnumSource(value = LineBreak.class, names = "NUL", mode = EnumSource.Mode.EXCLUDE)
    void injection_through_the_name_of_a_file_dropped_into_a_folder_route(LineBreak b) {
        org.junit.jupiter.api.Assumptions.assumeFalse(UNNAMEABLE.containsKey(b),
                () -> "this file system cannot name the file: " + UNNAMEABLE.get(b));
        String marker = "scan-" + b.name();
        assertRefusedOrEncoded(routeFile(b), r -> subjectOf(r).contains(marker),
                List.of("attachments[0].filename", "subject"));
    }

    private static String routeFile(LineBreak b) {
        return "reports/scan-" + b.name() + b.inject() + ".pdf";
    }

    // --- the check itself -------------------------------------------------------------------------------

    @Test
    void the_wire_check_sees_an_extra_header_line_when_there_is_one() {
        assertThat(WireChecks.awaitOutcome(gateway, "wire-check.eml").sent()).isTrue();
        List<TestSmtpServer.Received> control = received(r -> CONTROL.equals(header(r, "X-Case")));
        assertThat(control).hasSize(1);

        assertThatThrownBy(() -> WireChecks.assertNoInjectedHeader(control.get(0).data(), INJECTED))
                .isInstanceOf(AssertionError.class).hasMessageContaining("X-Injected: yes");
    }

    // --- helpers ----------------------------------------------------------------------------------------

    private void assertRefusedOrEncoded(Target t, LineBreak b) {
        assertRefusedOrEncoded(t.file(b), r -> t.caseId(b).equals(header(r, "X-Case")), t.fields.apply(b));
    }

    /**
     * The request in {@code file} was refused with an {@code invalid-request} error naming one of {@code fields}
     * and nothing of it reached the server; or it was sent exactly once and its header block has no injected line.
     * Either way no message the server got so far has an injected header or the victim as a recipient.
     */
    private void assertRefusedOrEncoded(String file, Predicate<TestSmtpServer.Received> mine, List<String> fields) {
        WireChecks.Outcome outcome = WireChecks.awaitOutcome(gateway, file);
        if (outcome.sent()) {
            List<TestSmtpServer.Received> sent = received(mine);
            assertThat(sent).as("messages the server received for %s", file).hasSize(1);
            WireChecks.assertNoInjectedHeader(sent.get(0).data(), INJECTED);
            assertThat(sent.get(0).recipients()).doesNotContain(VICTIM);
        } else {
            assertThat(outcome.json().path("category").asText()).as("error file of %s: %s", file, outcome.json())
                    .isEqualTo("invalid-request");
            assertThat(outcome.errorFields()).as("fields named in the error file of %s: %s", file, outcome.json())
                    .containsAnyElementsOf(fields);
            assertThat(received(mine)).as("messages the server received for the refused %s", file).isEmpty();
        }
        nothingInjectedInAnyMessage();
    }

    private static void nothingInjectedInAnyMessage() {
        for (TestSmtpServer.Received r : smtp.received()) {
            assertThat(r.recipients()).doesNotContain(VICTIM);
            if (!CONTROL.equals(header(r, "X-Case"))) {
                WireChecks.assertNoInjectedHeader(r.data(), INJECTED);
            }
        }
    }

    private static List<TestSmtpServer.Received> received(Predicate<TestSmtpServer.Received> which) {
        return smtp.received().stream().filter(which).toList();
    }

    private static String header(TestSmtpServer.Received r, String name) {
        try {
            return r.message().getHeader(name, null);
        } catch (MessagingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String subjectOf(TestSmtpServer.Received r) {
        try {
            String subject = r.message().getSubject();
            return subject == null ? "" : subject;
        } catch (MessagingException e) {
            throw new IllegalStateException(e);
        }
    }
}
