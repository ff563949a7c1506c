package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import jakarta.mail.Multipart;
import jakarta.mail.Part;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.support.LinkFlipper;
import dev.mailgate.support.PackagedGateway;
import dev.mailgate.support.TestSmtpServer;

/**
 * Issue 14, item 2, against the packaged jar as its own process: while a thread flips {@code outbox/attachments/x}
 * between a plain file and a link to a secret next to the work folder, 60 requests naming {@code x} are dropped into
 * the outbox. No byte of the secret may reach the SMTP server; every request ends in {@code .sent/} with the inside
 * content or in {@code .failed/} with an error naming {@code attachments[0].path}. Runs after {@code package}
 * (failsafe).
 */
class AttachmentRaceIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int REQUESTS = 60;
    private static final String INSIDE = "inside-the-root: the quarterly figures";
    private static final String SECRET = "OUTSIDE-SECRET-broker-password-5e2b91";

    @RegisterExtension
    final PackagedGateway mailgate = PackagedGateway.realTenant().jvm("-Xmx256m");

    @Test
    void flipping_an_attachment_between_a_file_and_a_link_to_a_secret_never_sends_the_secret() throws Exception {
        Path attachments = Files.createDirectories(mailgate.dir().resolve("outbox/attachments"));
        Path secret = Files.writeString(mailgate.dir().resolve("broker-password"), SECRET);
        mailgate.start();

        Path outbox = mailgate.dir().resolve("outbox");
        List<String> names = new ArrayList<>();
        int flips;
        try (LinkFlipper flipper = new LinkFlipper(attachments.resolve("x"), INSIDE, secret)) {
            for (int i = 0; i < REQUESTS; i++) {
                String name = String.format(Locale.ROOT, "race-%02d.json", i);
                names.add(name);
                mailgate.drop(name, "{\"to\": \"alice@example.com\", \"subject\": \"race-" + i + "\", \"text\": "
                        + "\"see the attachment\", \"attachments\": [{\"path\": \"x\"}]}");
                Thread.sleep(15);
            }
            mailgate.await(Duration.ofSeconds(120), () -> names.stream().allMatch(n -> outcome(outbox, n) != null));
            flips = flipper.flips();
        }
        assertThat(flips).as("the attachment was flipped while the requests were read").isGreaterThan(100);

        int sent = 0;
        int refusedAtCheck = 0;
        int refusedAtOpen = 0;
        for (String name : names) {
            Path outcome = outcome(outbox, name);
            if (outcome.toString().endsWith(".error.json")) {
                JsonNode error = JSON.readTree(outcome.toFile());
                assertThat(error.path("category").asText()).as(name).isEqualTo("invalid-request");
                JsonNode problem = error.path("errors").get(0);
                assertThat(problem.path("field").asText()).as(name).isEqualTo("attachments[0].path");
                assertThat(error.toString()).doesNotContain(SECRET);
                if (problem.path("message").asText().contains("changed after it was checked")) {
                    refusedAtOpen++;
                } else {
                    refusedAtCheck++;
                }
            } else {
                sent++;
            }
        }
        List<TestSmtpServer.Received> received = mailgate.smtp().received();
        List<String> leaked = new ArrayList<>();
        for (TestSmtpServer.Received mail : received) {
            String parts = decodedParts(mail.message());
            if (mail.text().contains(SECRET) || parts.contains(SECRET)) {
                leaked.add(mail.message().getSubject());
            }
        }
        assertThat(leaked).as("mails that carried the secret, of %d", received.size()).isEmpty();
        for (TestSmtpServer.Received mail : received) {
            assertThat(decodedParts(mail.message())).as(mail.message().getSubject()).contains(INSIDE);
        }
        assertThat(received).as("one mail per request in .sent/").hasSize(sent);
        assertThat(mailgate.logText()).doesNotContain(SECRET);
        System.out.printf(Locale.ROOT, "ATTACHMENT-RACE requests=%d flips=%d sent=%d refusedAtCheck=%d "
                + "refusedAtOpen=%d leaked=%d%n", REQUESTS, flips, sent, refusedAtCheck, refusedAtOpen, leaked.size());
    }

    /** The receipt or error file of {@code name}, or {@code null} while it has neither. */
    private static Path outcome(Path outbox, String name) {
        Path receipt = outbox.resolve(".sent").resolve(name + ".receipt.json");
        Path error = outbox.resolve(".failed").resolve(name + ".error.json");
        return Files.exists(receipt) ? receipt : Files.exists(error) ? error : null;
    }

    private static String decodedParts(Part part) throws Exception {
        if (part.getContent() instanceof Multipart multipart) {
            StringBuilder all = new StringBuilder();
            for (int i = 0; i < multipart.getCount(); i++) {
                all.append(decodedParts(multipart.getBodyPart(i))).append('\n');
            }
            return all.toString();
        }
        try (var in = part.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
