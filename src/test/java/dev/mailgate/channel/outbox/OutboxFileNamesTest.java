package dev.mailgate.channel.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.support.MailgateExtension;

/**
 * Outbox files whose names Camel or the file system make hard: each one is sent (or fails) like any other, with its
 * receipt, and the log says what happened once, instead of a stack trace every poll or nothing at all.
 */
class OutboxFileNamesTest {

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant();

    private static final String REQUEST = "{\"to\": \"names@example.com\", \"subject\": \"%s\", \"text\": \"x\"}";

    /** The receipts in {@code .sent/} whose {@code file} is {@code name}. */
    private static List<JsonNode> receiptsFor(String name) throws Exception {
        Path sent = mailgate.gateway().outbox().resolve(".sent");
        if (!Files.isDirectory(sent)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(sent)) {
            List<JsonNode> receipts = new java.util.ArrayList<>();
            for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".receipt.json")).toList()) {
                JsonNode receipt = new ObjectMapper().readTree(f.toFile());
                if (receipt.path("file").asText().equals(name)) {
                    receipts.add(receipt);
                }
            }
            return receipts;
        }
    }

    private static JsonNode awaitReceipt(String name) {
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> receiptsFor(name).size() == 1);
        try {
            return receiptsFor(name).get(0);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void a_255_byte_file_name_is_sent_with_a_shortened_outcome_name_and_no_stack_trace() throws Exception {
        String name = "a".repeat(250) + ".json";
        mailgate.gateway().drop(name, REQUEST.formatted("longest name"));

        JsonNode receipt = awaitReceipt(name);

        assertThat(receipt.path("status").asText()).isEqualTo("sent");
        assertThat(mailgate.gateway().outbox().resolve(name)).doesNotExist();
        try (Stream<Path> sent = Files.list(mailgate.gateway().outbox().resolve(".sent"))) {
            assertThat(sent.map(p -> p.getFileName().toString()))
                    .anySatisfy(n -> assertThat(n).startsWith("a".repeat(100)).endsWith(".json")
                            .hasSizeLessThanOrEqualTo(255 - ".receipt.json".length() - ".tmp".length() - 1));
        }
        assertThat(mailgate.logText()).doesNotContain("File name too long").doesNotContain(".camelLock");
        assertThat(mailgate.logLines()).filteredOn(l -> l.startsWith("ERROR") || l.contains(" | ")).isEmpty();
    }

    @Test
    void a_240_byte_file_name_keeps_its_receipt() throws Exception {
        String name = "b".repeat(235) + ".json";
        mailgate.gateway().drop(name, REQUEST.formatted("long name"));

        JsonNode receipt = awaitReceipt(name);

        assertThat(receipt.path("status").asText()).isEqualTo("sent");
        assertThat(mailgate.logText()).doesNotContain("could not be written");
    }

    @Test
    void a_file_name_that_is_not_valid_utf8_is_renamed_once_and_sent() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/bin/sh")), "needs /bin/sh");
        // bytes 0xFF and 0xFE are never UTF-8: Java cannot name this file, only list it
        Process shell = new ProcessBuilder("/bin/sh", "-c", "printf '%s' \"$0\" > \"$(printf 'latin\\377\\376.json')\"",
                REQUEST.formatted("bad name")).directory(mailgate.gateway().outbox().toFile()).inheritIO().start();
        assertThat(shell.waitFor()).isZero();

        JsonNode receipt = awaitReceipt("latin__.json");

        assertThat(receipt.path("status").asText()).isEqualTo("sent");
        assertThat(mailgate.smtp().received()).anyMatch(r -> r.text().contains("Subject: bad name"));
        assertThat(mailgate.logLines()).filteredOn(l -> l.contains("latin__.json") && l.contains("Renamed"))
                .singleElement().asString().contains("not valid in this system's file name encoding",
                        "LANG=C.UTF-8");
    }

    @Test
    void a_file_dropped_again_with_the_same_name_size_and_time_is_taken_again() throws Exception {
        String request = REQUEST.formatted("same again");
        Path first = mailgate.gateway().drop("again.json", request);
        FileTime time = FileTime.fromMillis(System.currentTimeMillis() - 60_000);
        Files.setLastModifiedTime(first, time);
        mailgate.gateway().awaitSent("again.json");

        // cp -p of the same file: same name, same size, same modification time
        Path second = mailgate.gateway().drop("again.json", request);
        Files.setLastModifiedTime(second, time);

        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> Files.exists(mailgate.gateway().outbox().resolve(".sent/again-2.json.receipt.json")));
        assertThat(second).doesNotExist();
        assertThat(new String(Files.readAllBytes(mailgate.gateway().outbox().resolve(".sent/again-2.json")),
                StandardCharsets.UTF_8)).isEqualTo(request);
    }
}
