package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import jakarta.mail.Part;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.support.Http;
import dev.mailgate.support.PackagedGateway;
import dev.mailgate.support.TestSmtpServer;

/**
 * A 30 MB attachment through the packaged jar with a 128 MB heap: the jar as its own process
 * ({@code -Xmx128m -XX:+ExitOnOutOfMemoryError}, so that running out of memory ends it instead of hiding in a log),
 * configured by environment variables for a real tenant served by the test's STARTTLS + XOAUTH2 server and token
 * endpoint, with {@code mailgate.limits.max-message-size} raised to 50MB as an admin who raised Exchange Online's
 * MaxSendSize would (30 MB are some 41 MB once base64-encoded). The same file goes out through the outbox and as a multipart upload
 * to the HTTP API; the server must get it byte for byte. A second test sends the largest inline (base64) attachment
 * the default limits allow through a JSON body and the outbox with the heap the README gives for it: an inline
 * attachment is held in memory while it is read. Runs after {@code package} (failsafe).
 */
class LargeAttachmentIT {

    private static final int SIZE = 30 * 1024 * 1024;
    /** The largest inline attachment within the default mailgate.limits.max-message-size of 35 MB. */
    private static final int INLINE_SIZE = 25 * 1024 * 1024;
    /** The heap README.md gives for inline attachments of that size. */
    private static final String INLINE_HEAP = "384m";
    private static final String API_KEY = "large-attachment-test-key";

    @RegisterExtension
    final PackagedGateway mailgate = PackagedGateway.realTenant().jvm("-XX:+ExitOnOutOfMemoryError")
            .with("mailgate.http.api-keys", API_KEY);

    @Test
    void a_30_mb_attachment_goes_out_intact_through_the_outbox_and_the_http_api_with_a_128_mb_heap() throws Exception {
        // random bytes: nothing on the way can make them smaller
        byte[] content = new byte[SIZE];
        new Random(30).nextBytes(content);
        String sha256 = sha256(content);
        Path dir = mailgate.dir();
        Files.write(Files.createDirectories(dir.resolve("outbox/attachments")).resolve("survey-scans.zip"), content);

        mailgate.jvm("-Xmx128m").with("mailgate.limits.max-message-size", "50MB");
        long started = System.nanoTime();
        PackagedGateway.Run gateway = mailgate.start();

        // 1. the outbox: a MailRequest naming the file in outbox/attachments/, written under a hidden name first
        long dropped = System.nanoTime();
        mailgate.drop("scans.json", "{\"to\": \"archive@example.com\", \"subject\": \"Survey scans\", \"text\": "
                + "\"The scans are attached.\", \"attachments\": [{\"path\": \"survey-scans.zip\"}]}");
        JsonNode receipt = mailgate.awaitSent("scans.json", Duration.ofSeconds(60));
        double outboxSeconds = (System.nanoTime() - dropped) / 1e9;

        TestSmtpServer.Received viaOutbox = mailgate.smtp().awaitReceived(1).get(0);
        assertThat(viaOutbox.recipients()).containsExactly("archive@example.com");
        assertAttachment(viaOutbox.message(), "survey-scans.zip", "application/zip", sha256);
        assertThat(receipt.path("status").asText()).isEqualTo("sent");
        assertThat(receipt.path("messageId").asText()).isEqualTo(viaOutbox.message().getMessageID());
        assertThat(receipt.path("serverReply").asText()).startsWith("250");

        // 2. the HTTP API: the same bytes as a file part of a multipart request (within mailgate.http.max-body-size)
        Http http = mailgate.http();
        long posted = System.nanoTime();
        HttpResponse<String> accepted = http.postMultipart(API_KEY, "{\"to\": \"ledger@example.com\", \"subject\": "
                + "\"Ledger\", \"text\": \"Attached.\"}", Map.of("ledger.bin", content));
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        String id = Http.json(accepted).path("id").asText();
        TestSmtpServer.Received viaHttp = mailgate.smtp().awaitReceived(2).get(1);
        double httpSeconds = (System.nanoTime() - posted) / 1e9;
        assertThat(viaHttp.recipients()).containsExactly("ledger@example.com");
        assertAttachment(viaHttp.message(), "ledger.bin", "application/octet-stream", sha256);
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> Http.json(http.get(API_KEY,
                "/api/v1/messages/" + id)).path("state").asText().equals("sent"));
        // the copies kept until the mails were sent are gone: 30 MB each
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> files(dir.resolve("data/uploads")) == 0);

        assertThat(gateway.isAlive()).as("the gateway is still running (an OutOfMemoryError would have ended it)")
                .isTrue();
        String peakRss = peakRss(gateway.process().pid());
        assertThat(gateway.stop()).doesNotContain("OutOfMemoryError", "Java heap space");
        System.out.printf(Locale.ROOT, "LARGE-ATTACHMENT size=%dMB heap=128m outboxSeconds=%.1f httpSeconds=%.1f "
                + "peakRss=%s total=%.1f%n", SIZE / (1024 * 1024), outboxSeconds, httpSeconds, peakRss,
                (System.nanoTime() - started) / 1e9);
    }

    /**
     * The largest inline (base64) attachment the default 35 MB message limit allows, 25 MB (35 million base64
     * characters), in a JSON body to the HTTP API and in an outbox request file, through the jar with the heap
     * README.md names for it ({@code mailgate.it.inline-heap} overrides it, to find the smallest that works). An inline
     * attachment is read into memory whole, as the JSON string and as its bytes, before it is written to a file;
     * files named by path (the test above) are streamed.
     */
    @Test
    void a_25_mb_inline_attachment_goes_out_intact_through_a_json_body_and_the_outbox_with_the_documented_heap()
            throws Exception {
        String heap = System.getProperty("mailgate.it.inline-heap", INLINE_HEAP);
        byte[] content = new byte[INLINE_SIZE];
        new Random(25).nextBytes(content);
        String sha256 = sha256(content);
        String base64 = java.util.Base64.getEncoder().encodeToString(content);
        content = null;

        PackagedGateway.Run gateway = mailgate.jvm("-Xmx" + heap).start();

        // 1. the HTTP API, a JSON body
        long posted = System.nanoTime();
        HttpResponse<String> accepted = mailgate.http().postJson(API_KEY, inlineRequest("Inline over HTTP", base64));
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        TestSmtpServer.Received viaHttp = mailgate.smtp().awaitReceived(1).get(0);
        double httpSeconds = (System.nanoTime() - posted) / 1e9;
        assertAttachment(viaHttp.message(), "figures.bin", "application/octet-stream", sha256);

        // 2. the outbox, a request file
        long dropped = System.nanoTime();
        mailgate.drop("inline.json", inlineRequest("Inline from the outbox", base64));
        mailgate.awaitSent("inline.json", Duration.ofSeconds(90));
        double outboxSeconds = (System.nanoTime() - dropped) / 1e9;
        assertAttachment(mailgate.smtp().awaitReceived(2).get(1).message(), "figures.bin", "application/octet-stream",
                sha256);

        assertThat(gateway.isAlive()).as("the gateway is still running (an OutOfMemoryError would have ended it)")
                .isTrue();
        String peakRss = peakRss(gateway.process().pid());
        assertThat(gateway.stop()).doesNotContain("OutOfMemoryError", "Java heap space");
        System.out.printf(Locale.ROOT, "LARGE-INLINE-ATTACHMENT size=%dMB base64=%d heap=%s httpSeconds=%.1f "
                + "outboxSeconds=%.1f peakRss=%s%n", INLINE_SIZE / (1024 * 1024), base64.length(), heap, httpSeconds,
                outboxSeconds, peakRss);
    }

    private static String inlineRequest(String subject, String base64) {
        return "{\"to\": \"archive@example.com\", \"subject\": \"" + subject + "\", \"text\": \"Attached.\", "
                + "\"attachments\": [{\"filename\": \"figures.bin\", \"content\": \"" + base64 + "\"}]}";
    }

    /** The mail's attachment: its file name, its content type, and the SHA-256 of its decoded bytes. */
    private static void assertAttachment(MimeMessage message, String filename, String contentType, String sha256)
            throws Exception {
        MimeMultipart mixed = (MimeMultipart) message.getContent();
        assertThat(mixed.getCount()).isEqualTo(2);
        Part attachment = mixed.getBodyPart(1);
        assertThat(attachment.getDisposition()).isEqualTo(Part.ATTACHMENT);
        assertThat(attachment.getFileName()).isEqualTo(filename);
        assertThat(attachment.getContentType()).startsWith(contentType);
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

    private static long files(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            return 0;
        }
        try (Stream<Path> all = Files.walk(folder)) {
            return all.filter(Files::isRegularFile).count();
        }
    }

    /** The process's peak resident set (Linux), for the log line. */
    private static String peakRss(long pid) {
        try {
            return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream()
                    .filter(line -> line.startsWith("VmHWM:"))
                    .map(line -> Long.parseLong(line.replaceAll("\\D", "")) / 1024 + "MB").findFirst().orElse("n/a");
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
    }
}
