package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import jakarta.mail.Multipart;
import jakarta.mail.Part;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.support.HardLinkFlipper;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * A report in {@code outbox/reports/} is mailed as it is. Someone who may write there flips {@code q.pdf} between a
 * plain file and a second name (a hard link) of one of Mailgate's secret files: the look before the read sees the
 * plain file, the read gets the secret. The look after the copy sees the swap, so no byte of the secret is mailed.
 */
class OutboxHardLinkSwapTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String INSIDE = "%PDF-1.4 the quarterly figures, page 1 of 1";
    /** As long as {@link #INSIDE}: the read lock must see one file that does not change. */
    private static final String SECRET = "client-secret=S3cret_hard_link_7d1c0a9b2e4f";
    private static final int ATTEMPTS = 30;

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant();

    @Test
    void a_report_swapped_for_a_hard_link_to_a_secret_after_the_check_is_never_mailed() throws Exception {
        Path reports = Files.createDirectories(mailgate.gateway().outbox().resolve("reports"));
        Files.createDirectories(mailgate.dir().resolve("data"));
        Path secret = Files.writeString(mailgate.dir().resolve("data/client-secret"), SECRET);

        try (HardLinkFlipper flipper = new HardLinkFlipper(reports.resolve("q.pdf"), INSIDE, secret)) {
            Awaitility.await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                    .until(() -> reportMails().size() + errorFiles(reports).size() >= ATTEMPTS);
            assertThat(flipper.flips()).isGreaterThan(100);
        }

        List<String> leaked = new ArrayList<>();
        for (TestSmtpServer.Received mail : reportMails()) {
            String parts = decodedParts(mail);
            if (parts.contains(SECRET) || mail.text().contains(SECRET)) {
                leaked.add(mail.message().getSubject());
            } else {
                assertThat(parts).contains(INSIDE);
            }
        }
        assertThat(leaked).as("mails that carried the secret, of %d", reportMails().size()).isEmpty();
        for (Path error : errorFiles(reports)) {
            JsonNode failure = JSON.readTree(error.toFile());
            assertThat(failure.path("reason").asText()).as("%s", error)
                    .containsAnyOf("has 2 names", "has 3 names", "names (hard links)", "changed while Mailgate read it")
                    .doesNotContain(SECRET);
        }
        assertThat(mailgate.logText()).doesNotContain(SECRET);
    }

    private static List<TestSmtpServer.Received> reportMails() {
        return mailgate.smtp().received().stream().filter(m -> m.recipients().contains("reports@example.com"))
                .toList();
    }

    private static List<Path> errorFiles(Path reports) throws Exception {
        Path failed = reports.resolve(".failed");
        if (!Files.isDirectory(failed)) {
            return List.of();
        }
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(failed, "*.error.json")) {
            entries.forEach(found::add);
        }
        return found;
    }

    /** Every part's decoded content, joined: a base64 attachment is compared by what it decodes to. */
    private static String decodedParts(TestSmtpServer.Received mail) throws Exception {
        StringBuilder all = new StringBuilder();
        collect(mail.message(), all);
        return all.toString();
    }

    private static void collect(Part part, StringBuilder all) throws Exception {
        Object content = part.getContent();
        if (content instanceof Multipart multipart) {
            for (int i = 0; i < multipart.getCount(); i++) {
                collect(multipart.getBodyPart(i), all);
            }
        } else {
            try (var in = part.getInputStream()) {
                all.append(new String(in.readAllBytes(), StandardCharsets.UTF_8)).append('\n');
            }
        }
    }
}
