package dev.mailgate.request;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Random;

import jakarta.mail.Multipart;
import jakarta.mail.Part;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.support.Http;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * Inline (base64) attachments are one JSON string each, and Jackson refuses strings over 20 million characters by
 * default: a 15 MB file was answered "not valid JSON" although the limits say 50 MB body and 35 MB message. The
 * reader's string limit now follows {@code mailgate.limits.max-message-size}: a 21 MB file inline goes out intact
 * through the HTTP API's JSON body and the outbox (checked by the SHA-256 of what the server got), and one over the
 * limit gets the size error that names the limit.
 */
class LargeInlineAttachmentTest {

    private static final int SIZE = 21 * 1024 * 1024;

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant();

    @Test
    void a_21_mb_inline_attachment_goes_out_intact_through_the_http_json_body_and_the_outbox() throws Exception {
        byte[] content = new byte[SIZE];
        new Random(21).nextBytes(content);
        String sha256 = sha256(content);
        String json = request("Inline over HTTP", "figures.bin", Base64.getEncoder().encodeToString(content));
        assertThat(json.length()).as("longer than Jackson's default string limit").isGreaterThan(20_000_000);

        HttpResponse<String> accepted = mailgate.http().postJson(MailgateExtension.API_KEY, json);

        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        String id = Http.json(accepted).path("id").asText();
        mailgate.gateway().awaitState(id, Journal.State.SENT);
        assertAttachment(received("X-Mailgate-Id: " + id), "figures.bin", sha256);

        // the outbox: the same request as a file, its base64 wrapped in lines as a MIME tool writes it
        String wrapped = Base64.getMimeEncoder().encodeToString(content).replace("\r\n", "\n");
        mailgate.gateway().drop("inline.json", request("Inline from the outbox", "figures.bin", wrapped));
        JsonNode receipt = mailgate.gateway().awaitSent("inline.json");
        assertAttachment(received("X-Mailgate-Id: " + receipt.path("id").asText()), "figures.bin", sha256);
    }

    @Test
    void an_inline_attachment_over_the_message_limit_gets_the_size_error_naming_the_limit_not_invalid_json() {
        // 36 million base64 characters: more than the 35 MB message limit even before MIME line breaks
        byte[] content = new byte[27 * 1024 * 1024];
        String json = request("Too big", "big.bin", Base64.getEncoder().encodeToString(content));

        HttpResponse<String> refused = mailgate.http().postJson(MailgateExtension.API_KEY, json);

        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(400);
        JsonNode problem = Http.json(refused).path("errors").get(0);
        assertThat(problem.path("field").asText()).isEqualTo("attachments[0].content");
        assertThat(problem.path("message").asText()).contains("mailgate.limits.max-message-size", "35.0 MB")
                .doesNotContain("not valid JSON");

        mailgate.gateway().drop("too-big.json", json);
        JsonNode error = mailgate.gateway().awaitFailed("too-big.json");
        assertThat(error.path("category").asText()).isEqualTo("invalid-request");
        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo("attachments[0].content");
        assertThat(error.path("errors").get(0).path("message").asText()).contains("mailgate.limits.max-message-size");
    }

    private static String request(String subject, String filename, String base64) {
        // built by hand: an ObjectNode would hold a second copy of the 28 MB string
        return "{\"to\": \"archive@example.com\", \"subject\": \"" + subject + "\", \"text\": \"Attached.\", "
                + "\"attachments\": [{\"filename\": \"" + filename + "\", \"content\": \""
                + base64.replace("\n", "\\n") + "\"}]}";
    }

    private static TestSmtpServer.Received received(String marker) {
        return mailgate.smtp().received().stream().filter(r -> contains(r.data(), marker)).findFirst().orElseThrow();
    }

    private static boolean contains(byte[] data, String marker) {
        // the header block is at the start: no need to turn 29 MB into a String
        int head = Math.min(data.length, 8192);
        return new String(data, 0, head, StandardCharsets.ISO_8859_1).contains(marker);
    }

    private static void assertAttachment(TestSmtpServer.Received mail, String filename, String sha256)
            throws Exception {
        Part attachment = ((Multipart) mail.message().getContent()).getBodyPart(1);
        assertThat(attachment.getFileName()).isEqualTo(filename);
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (InputStream in = attachment.getInputStream()) {
            byte[] buffer = new byte[64 * 1024];
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                digest.update(buffer, 0, n);
            }
        }
        assertThat(HexFormat.of().formatHex(digest.digest())).as("SHA-256 of %s as received", filename)
                .isEqualTo(sha256);
    }

    private static String sha256(byte[] content) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    }
}
