package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import jakarta.mail.Multipart;
import jakarta.mail.Part;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.LinkFlipper;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Issue 14, item 2, against the packaged jar as its own process: while a thread flips {@code outbox/attachments/x}
 * between a plain file and a link to a secret next to the work folder, 60 requests naming {@code x} are dropped into
 * the outbox. No byte of the secret may reach the SMTP server; every request ends in {@code .sent/} with the inside
 * content or in {@code .failed/} with an error naming {@code attachments[0].path}. Runs after {@code package}
 * (failsafe).
 */
class AttachmentRaceIT {

    private static final Path JAR = Path.of(System.getProperty("mailgate.jar", "target/mailgate.jar"))
            .toAbsolutePath();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int REQUESTS = 60;
    private static final String INSIDE = "inside-the-root: the quarterly figures";
    private static final String SECRET = "OUTSIDE-SECRET-broker-password-5e2b91";

    @TempDir
    Path dir;

    private SelfSignedCertificate tls;
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Process gateway;

    @BeforeEach
    void servers() {
        tls = SelfSignedCertificate.forLocalhost();
        entra = new TestEntra(tls, null);
        smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (gateway != null && gateway.isAlive()) {
            gateway.destroyForcibly();
            gateway.waitFor(30, TimeUnit.SECONDS);
        }
        smtp.close();
        entra.close();
    }

    @Test
    void flipping_an_attachment_between_a_file_and_a_link_to_a_secret_never_sends_the_secret() throws Exception {
        Path attachments = Files.createDirectories(dir.resolve("outbox/attachments"));
        Path secret = Files.writeString(dir.resolve("broker-password"), SECRET);
        Map<String, String> settings = Gateway.realTenant(dir, entra, smtp.port(), tls);
        Path log = dir.resolve("gateway.log");
        ProcessBuilder builder = new ProcessBuilder(Gateway.javaBinary(), "-Xmx256m", "-jar", JAR.toString())
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().keySet().removeIf(k -> k.startsWith("MAILGATE_"));
        builder.environment().putAll(Gateway.environment(settings));
        gateway = builder.start();
        await(Duration.ofSeconds(90), () -> Files.readString(log).contains("Started outbox"), log);

        Path outbox = dir.resolve("outbox");
        List<String> names = new ArrayList<>();
        int flips;
        try (LinkFlipper flipper = new LinkFlipper(attachments.resolve("x"), INSIDE, secret)) {
            for (int i = 0; i < REQUESTS; i++) {
                String name = String.format(Locale.ROOT, "race-%02d.json", i);
                names.add(name);
                Path hidden = outbox.resolve("." + name);
                Files.writeString(hidden, "{\"to\": \"alice@example.com\", \"subject\": \"race-" + i + "\", \"text\": "
                        + "\"see the attachment\", \"attachments\": [{\"path\": \"x\"}]}");
                Files.move(hidden, outbox.resolve(name), StandardCopyOption.ATOMIC_MOVE);
                Thread.sleep(15);
            }
            await(Duration.ofSeconds(120), () -> names.stream().allMatch(n -> outcome(outbox, n) != null), log);
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
        List<TestSmtpServer.Received> received = smtp.received();
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
        assertThat(Files.readString(log)).doesNotContain(SECRET);
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

    private interface Condition {
        boolean holds() throws Exception;
    }

    /** Waits for {@code condition}; fails at once, with the log, if the gateway exits. */
    private void await(Duration timeout, Condition condition, Path log) throws Exception {
        long end = System.nanoTime() + timeout.toNanos();
        while (!condition.holds()) {
            if (!gateway.isAlive() || System.nanoTime() > end) {
                throw new AssertionError((gateway.isAlive() ? "waited " + timeout : "the gateway exited with "
                        + gateway.exitValue()) + "; its log:\n" + Files.readString(log));
            }
            Thread.sleep(50);
        }
    }
}
