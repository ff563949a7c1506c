package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.support.Gateway;
import dev.mailgate.support.PackagedGateway;

/**
 * The packaged jar, run as a newcomer would: the README's {@code java -XX:SharedArchiveFile=target/mailgate.jsa -jar
 * target/mailgate.jar} in an empty directory, no configuration, example requests copied into {@code outbox/}. Runs
 * after {@code package} (failsafe).
 */
class SandboxIT {

    /** The class data sharing archive {@code package} writes next to the jar (README: start-up). */
    private static final Path ARCHIVE = PackagedGateway.JAR.resolveSibling("mailgate.jsa");
    /** Built with -Dmailgate.cds.skip=true: there is no archive. */
    private static final boolean NO_ARCHIVE = Boolean.getBoolean("mailgate.cds.skip");
    private static final Path EXAMPLES = Path.of("examples").toAbsolutePath();
    private static final Pattern JWT = Pattern.compile("eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}");

    @RegisterExtension
    final PackagedGateway mailgate = PackagedGateway.sandbox();

    @Test
    void zero_configuration_run_from_the_start_up_archive_delivers_the_examples_and_logs_no_secret() throws Exception {
        String secret = "sandbox-secret-" + System.nanoTime();
        // the README's command, with -Xshare:on: the JVM refuses to start, instead of starting slowly, when the
        // archive built at package time does not fit this JVM and these jars
        if (!NO_ARCHIVE) {
            mailgate.jvm("-XX:SharedArchiveFile=" + ARCHIVE, "-Xshare:on");
        }
        PackagedGateway.Run run = mailgate.env("MAILGATE_LOG_LEVEL", "DEBUG").env("MAILGATE_SMTP_DEBUG", "true")
                .env("MAILGATE_ENTRA_CLIENT_SECRET", secret).start();
        Path workDir = mailgate.dir();
        try {
            for (String example : List.of("hello.json", "welcome.json", "hello.eml")) {
                Files.copy(EXAMPLES.resolve(example), workDir.resolve("outbox").resolve(example));
            }

            Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> sandboxMail().size() == 3
                    && Files.exists(workDir.resolve("outbox/.sent/hello.eml.receipt.json")));

            // the README's curl example, with the key generated at first start
            String key = Files.readString(workDir.resolve("data/http-api-key")).trim();
            java.net.http.HttpResponse<String> posted = java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:8025/api/v1/messages"))
                            .header("X-API-Key", key).header("Content-Type", "application/json")
                            .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                                    "{\"to\": \"alice@example.com\", \"subject\": \"Hello over HTTP\", \"text\": \"Hi\"}"))
                            .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(posted.statusCode()).isEqualTo(202);
            Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> sandboxMail().size() == 4);

            JsonNode receipt = new ObjectMapper().readTree(workDir.resolve("outbox/.sent/hello.json.receipt.json")
                    .toFile());
            assertThat(receipt.path("sandbox").asBoolean()).isTrue();
            assertThat(receipt.path("notice").asText()).contains("nothing left this machine");
            assertThat(receipt.path("serverReply").asText()).startsWith("250 2.0.0 OK")
                    .contains("SANDBOX");
            String all = String.join("\n", sandboxMail().stream().map(SandboxIT::read).toList());
            assertThat(all).contains("Subject: Hello from Mailgate", "Subject: Welcome, Bob",
                    "Subject: A ready-made message", "to=<carol@example.com>, <audit@example.com>",
                    "Subject: Hello over HTTP");
            assertThat(all).doesNotContain("Bcc:");
            assertThat(workDir.resolve("outbox/.failed")).doesNotExist();
        } finally {
            run.stop(Duration.ofSeconds(30));
        }
        String output = run.logText();
        assertThat(output).contains("SANDBOX MODE", "NOTHING LEAVES THIS MACHINE", "DEBUG SMTP: AUTH XOAUTH2",
                " DEBUG ");
        String apiKey = Files.readString(workDir.resolve("data/http-api-key")).trim();
        for (String line : output.split("\n")) {
            assertThat(line).doesNotContain(secret).doesNotContain("Bearer ").doesNotContain("dXNlcj")
                    .doesNotContain(apiKey);
            assertThat(JWT.matcher(line).find()).as("JWT-shaped text in: %s", line).isFalse();
        }
    }

    @Test
    void real_mode_without_a_tenant_stops_with_exit_code_78_and_names_every_missing_key() throws Exception {
        PackagedGateway.Run run = mailgate.env("MAILGATE_SANDBOX", "false").launch();

        assertThat(run.process().waitFor(60, TimeUnit.SECONDS)).isTrue();

        assertThat(run.process().exitValue()).isEqualTo(78);
        assertThat(run.logText()).contains("Mailgate is not configured correctly",
                "mailgate.entra.tenant-id", "mailgate.entra.client-id", "MAILGATE_ENTRA_CLIENT_SECRET",
                "mailgate.sender").doesNotContain("\tat ");
    }

    @Test
    void a_second_gateway_in_the_same_folder_stops_with_exit_code_78_and_names_the_folder() throws Exception {
        Path workDir = mailgate.dir();
        PackagedGateway.Run first = mailgate.env("MAILGATE_HTTP_PORT", Integer.toString(Gateway.freePort()))
                .env("MAILGATE_BROKER_PORT", "0").start();
        try {
            // its own journal, so that it is the broker's folder that is in use (the journal's is checked first)
            PackagedGateway.Run second = mailgate.env("MAILGATE_HTTP_PORT", Integer.toString(Gateway.freePort()))
                    .env("MAILGATE_JOURNAL_URL", "jdbc:h2:file:" + workDir.resolve("second/journal").toAbsolutePath()
                            + ";WRITE_DELAY=0").launch();

            assertThat(second.process().waitFor(60, TimeUnit.SECONDS)).as("the second gateway gives up").isTrue();
            assertThat(second.process().exitValue()).isEqualTo(78);
            String output = second.logText();
            // Artemis logs its own error with a stack trace first; Mailgate's report follows, without one
            // the cause, in Artemis' own words (Mailgate's message quotes the phrase, so look for its detail)
            assertThat(output).contains("Mailgate is not configured correctly",
                    "Timed out waiting for lock. Waited for 5");
            assertThat(output.substring(output.indexOf("Mailgate is not configured correctly"))).contains(
                    "Timed out waiting for lock", "another Mailgate or Artemis broker is using its folder "
                            + workDir.resolve("data/broker"),
                    "mailgate.broker.dir").doesNotContain("\tat ");
            assertThat(first.isAlive()).as("the first gateway runs on").isTrue();
        } finally {
            first.stop(Duration.ofSeconds(30));
        }
    }

    private List<Path> sandboxMail() throws IOException {
        Path dir = mailgate.dir().resolve("data/sandbox");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".eml")).toList();
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
