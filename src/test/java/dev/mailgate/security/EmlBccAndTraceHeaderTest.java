package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * A ready {@code .eml} message is sent as it is, but for two kinds of header: blind copies (Bcc, Resent-Bcc, in any
 * case, folded or not) whose addresses would be disclosed to every recipient, and Mailgate's own trace headers
 * ({@code X-Mailgate-*}), which a message must not bring along to pass for one Mailgate traced. Both are dropped while
 * the message is streamed to the server; the only {@code X-Mailgate-Id} on the wire is Mailgate's own, and the body
 * arrives byte for byte.
 */
class EmlBccAndTraceHeaderTest {

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant();

    private static final String BODY = "Hello,\r\n\r\nthe figures are attached.\r\n-- \r\nBilling\r\n";

    @Test
    void bcc_resent_bcc_and_forged_mailgate_headers_never_reach_the_wire() {
        String eml = "From: sender@contoso.test\r\n"
                + "To: alice@example.com\r\n"
                + "bCC: hidden-one@example.com,\r\n"
                + "  hidden-two@example.com\r\n"
                + "Resent-Bcc: resent-one@example.com,\r\n"
                + "\tresent-two@example.com\r\n"
                + "RESENT-BCC: resent-three@example.com\r\n"
                + "Resent-From: sender@contoso.test\r\n"
                + "X-Mailgate-Id: forged-id-1\r\n"
                + "x-mailgate-trace: forged-trace\r\n"
                + "X-MAILGATE-ID: forged-id-2\r\n"
                + "X-Mailgate-Channel: forged\r\n"
                + " folded-forged\r\n"
                + "Subject: Figures\r\n"
                + "\r\n"
                + BODY;
        mailgate.gateway().drop("figures.eml", eml.getBytes(StandardCharsets.UTF_8));

        JsonNode receipt = mailgate.gateway().awaitSent("figures.eml");

        TestSmtpServer.Received mail = mailgate.smtp().received().stream()
                .filter(r -> r.text().contains("Subject: Figures")).findFirst().orElseThrow();
        List<String> header = headerLines(mail.text());
        assertThat(header).noneMatch(line -> name(line).equals("bcc") || name(line).equals("resent-bcc"));
        String headerText = String.join("\r\n", header);
        assertThat(headerText).doesNotContain("hidden-one", "hidden-two", "resent-one", "resent-two", "resent-three",
                "forged");
        assertThat(header).filteredOn(line -> name(line).startsWith("x-mailgate-"))
                .containsExactly("X-Mailgate-Id: " + receipt.path("id").asText());
        // the rest stays as it was
        assertThat(header).contains("Resent-From: sender@contoso.test", "To: alice@example.com");
        assertThat(mail.text()).endsWith("\r\n\r\n" + BODY);
        // Bcc addresses are envelope recipients; Resent-Bcc ones are not (see the README: .eml messages)
        assertThat(mail.recipients()).containsExactlyInAnyOrder("alice@example.com", "hidden-one@example.com",
                "hidden-two@example.com");
    }

    /** The header block as sent, one entry per line (continuation lines on their own). */
    private static List<String> headerLines(String data) {
        List<String> lines = new ArrayList<>();
        for (String line : data.split("\r\n", -1)) {
            if (line.isEmpty()) {
                break;
            }
            lines.add(line);
        }
        return lines;
    }

    /** A header line's field name, lower case, spaces before the colon ignored; "" for a continuation line. */
    private static String name(String line) {
        if (line.startsWith(" ") || line.startsWith("\t") || line.indexOf(':') < 0) {
            return "";
        }
        return line.substring(0, line.indexOf(':')).trim().toLowerCase(Locale.ROOT);
    }
}
