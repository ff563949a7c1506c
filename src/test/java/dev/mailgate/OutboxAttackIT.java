package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.PackagedGateway;
import dev.mailgate.support.SpecialFiles;

/**
 * The outbox attacks of issue 14 against the packaged jar, run as its own process in an empty folder (sandbox mode:
 * it generates {@code data/broker-password} and {@code data/http-api-key} itself): someone who may write to
 * {@code outbox/} links Mailgate's secrets into it and drops a FIFO. Neither secret reaches an error file, a receipt,
 * a mail or the process's output; both entries end in {@code .failed/} with what they are; the channel goes on; and
 * readiness goes down while a file is stuck and up again when it has gone. A second run under the C locale shows that
 * a file name Java cannot represent there is renamed once and sent.
 */
class OutboxAttackIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String HELLO = "{\"to\": \"alice@example.com\", \"subject\": \"%s\", \"text\": \"Hi\"}";

    @RegisterExtension
    final PackagedGateway mailgate = PackagedGateway.sandbox()
            .with("mailgate.http.port", Integer.toString(Gateway.freePort())).with("mailgate.broker.port", "0")
            .with("mailgate.outbox.settle-time", "200ms").with("mailgate.outbox.poll-interval", "100ms")
            .with("mailgate.outbox.stalled-after", "3s");

    /** Starts the jar and waits until it is ready as well. */
    private PackagedGateway.Run start() throws Exception {
        PackagedGateway.Run run = mailgate.start();
        run.await(Duration.ofSeconds(90), () -> ready() == 200);
        return run;
    }

    private int ready() {
        return mailgate.http().get(null, "/health/ready").statusCode();
    }

    private JsonNode health(String key) {
        return Http.json(mailgate.http().get(key, "/api/v1/health"));
    }

    private Path outbox(String name) {
        return mailgate.dir().resolve("outbox").resolve(name);
    }

    private JsonNode awaitRecord(String folder, String name, String suffix) throws IOException {
        Path record = outbox(folder).resolve(name + suffix);
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> Files.exists(record));
        return JSON.readTree(record.toFile());
    }

    /** Every regular file under {@code outbox/} and in {@code data/sandbox/}, and the process's output, as text. */
    private String everythingReadable(Path log) throws IOException {
        StringBuilder all = new StringBuilder(Files.readString(log, StandardCharsets.ISO_8859_1));
        for (Path root : List.of(mailgate.dir().resolve("outbox"), mailgate.dir().resolve("data/sandbox"))) {
            if (!Files.isDirectory(root)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(root)) {
                for (Path f : files.filter(f -> Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)).toList()) {
                    all.append('\n').append(Files.readString(f, StandardCharsets.ISO_8859_1));
                }
            }
        }
        return all.toString();
    }

    @Test
    void links_to_the_broker_password_and_the_api_key_and_a_fifo_are_refused_and_the_channel_goes_on()
            throws Exception {
        PackagedGateway.Run run = start();
        String password = Files.readString(mailgate.dir().resolve("data/broker-password")).trim();
        String apiKey = Files.readString(mailgate.dir().resolve("data/http-api-key")).trim();
        assertThat(password).hasSizeGreaterThan(16);

        Path fifo = SpecialFiles.mkfifo(outbox("fifo.json"));
        try {
            Files.createSymbolicLink(outbox("b.json"), Path.of("../data/broker-password"));
            Files.createSymbolicLink(outbox("k.eml"), Path.of("../data/http-api-key"));
            Files.writeString(outbox("hello.json"), HELLO.formatted("After the attack"));

            JsonNode link = awaitRecord(".failed", "b.json", ".error.json");
            JsonNode eml = awaitRecord(".failed", "k.eml", ".error.json");
            JsonNode pipe = awaitRecord(".failed", "fifo.json", ".error.json");
            JsonNode receipt = awaitRecord(".sent", "hello.json", ".receipt.json");

            assertThat(link.path("reason").asText()).contains("b.json is a symbolic link to ../data/broker-password",
                    "did not open it");
            assertThat(eml.path("reason").asText()).contains("k.eml is a symbolic link to ../data/http-api-key");
            assertThat(pipe.path("reason").asText()).contains("fifo.json is a FIFO (named pipe)", "did not open it");
            assertThat(receipt.path("status").asText()).isEqualTo("sent");
            assertThat(Files.isSymbolicLink(outbox(".failed/b.json"))).isTrue();
            assertThat(ready()).isEqualTo(200);
            assertThat(check(health(apiKey), "outbox").path("status").asText()).isEqualTo("UP");
            JsonNode backlogCheck = check(health(apiKey), "outbox-backlog");
            assertThat(backlogCheck.path("status").asText()).isEqualTo("UP");
            assertThat(backlogCheck.path("details").path("outbox.waiting").asText()).isEqualTo("0");

            // a file that cannot be taken yet (written by a machine whose clock is a day ahead) is named in the
            // health report, while the channel, which still works, keeps the gateway ready
            Path late = Files.writeString(outbox("late.json"), HELLO.formatted("Late"));
            Files.setLastModifiedTime(late, FileTime.from(Instant.now().plus(Duration.ofDays(1))));
            JsonNode down = Awaitility.await().atMost(Duration.ofSeconds(60)).until(
                    () -> check(health(apiKey), "outbox-backlog"), c -> c.path("status").asText().equals("DOWN"));
            assertThat(down.path("message").asText()).startsWith("outbox/late.json has waited");
            assertThat(down.path("details").path("fix").asText()).contains("modification time is in the future");
            assertThat(ready()).isEqualTo(200);

            Files.setLastModifiedTime(late, FileTime.from(Instant.now().minus(Duration.ofMinutes(1))));
            awaitRecord(".sent", "late.json", ".receipt.json");
            Awaitility.await().atMost(Duration.ofSeconds(60)).until(
                    () -> check(health(apiKey), "outbox-backlog").path("status").asText().equals("UP"));
        } finally {
            SpecialFiles.release(fifo);
        }
        assertThat(run.isAlive()).isTrue();

        run.stop(Duration.ofSeconds(30));
        String everything = everythingReadable(run.log());
        assertThat(everything).doesNotContain(password).doesNotContain(apiKey);
        assertThat(everything).contains("Subject: After the attack", "Subject: Late");
        assertThat(run.logText()).doesNotContain("\tat ");
    }

    @Test
    void under_the_c_locale_a_non_ascii_file_name_is_renamed_once_and_sent() throws Exception {
        // Java takes its file name encoding (sun.jnu.encoding) from the locale: ASCII under C
        mailgate.locale("C");
        PackagedGateway.Run run = start();

        Files.writeString(outbox("Grüße.json"), HELLO.formatted("Umlauts"));

        JsonNode receipt = awaitRecord(".sent", "Gr____e.json", ".receipt.json");
        assertThat(receipt.path("status").asText()).isEqualTo("sent");
        assertThat(Files.readAllLines(run.log(), StandardCharsets.ISO_8859_1)).filteredOn(l -> l.contains("Renamed"))
                .singleElement().asString().contains("Gr____e.json", "ANSI_X3.4-1968", "LANG=C.UTF-8");
    }

    private static JsonNode check(JsonNode health, String id) {
        for (JsonNode check : health.path("checks")) {
            if (check.path("id").asText().equals(id)) {
                return check;
            }
        }
        throw new AssertionError("no " + id + " check in " + health.toPrettyString());
    }
}
