package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.awaitility.Awaitility;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.support.Gateway;

/**
 * Reads what a test SMTP server received as the bytes of DATA (after the server undid the dot-stuffing), and
 * what the outbox did with a file, for the security tests.
 */
final class WireChecks {

    private static final ObjectMapper JSON = new ObjectMapper();

    private WireChecks() {
    }

    /** The header block of a received message: everything before the first empty line (CRLF CRLF). */
    static String headerBlock(byte[] data) {
        for (int i = 0; i + 3 < data.length; i++) {
            if (data[i] == '\r' && data[i + 1] == '\n' && data[i + 2] == '\r' && data[i + 3] == '\n') {
                return new String(data, 0, i, StandardCharsets.UTF_8);
            }
        }
        return fail("the received data has no empty line (CRLF CRLF) after its headers:%n%s",
                new String(data, StandardCharsets.UTF_8));
    }

    /** The header block split into its lines at CRLF, continuation lines kept as lines of their own. */
    static List<String> headerLines(byte[] data) {
        return List.of(headerBlock(data).split("\r\n", -1));
    }

    /** The body as it was received: everything after the first empty line. */
    static String body(byte[] data) {
        int headers = headerBlock(data).getBytes(StandardCharsets.UTF_8).length;
        return new String(data, headers + 4, data.length - headers - 4, StandardCharsets.UTF_8);
    }

    /**
     * No line of the header block starts a header named in {@code injected} (e.g. {@code Bcc}, {@code X-Injected}),
     * and nothing in it could end a line for a lenient reader: no bare CR or LF, no NUL, no raw U+0085, U+2028 or
     * U+2029.
     */
    static void assertNoInjectedHeader(byte[] data, String... injected) {
        String block = headerBlock(data);
        for (String line : headerLines(data)) {
            for (String name : injected) {
                assertThat(line.toLowerCase(Locale.ROOT))
                        .as("a header line on the wire, in the header block:%n%s", block)
                        .doesNotStartWith(name.toLowerCase(Locale.ROOT) + ":");
            }
            assertThat(line).as("a header line on the wire (CR or LF not in a CRLF pair), in:%n%s", block)
                    .doesNotContain("\r", "\n");
            assertThat(line).as("a header line on the wire, in:%n%s", block)
                    .doesNotContain("\u0000", "\u0085", "\u2028", "\u2029");
        }
    }

    /** Every line of the data ends with CRLF: no bare CR, no bare LF, and the data ends at the end of a line. */
    static void assertEveryLineEndsWithCrlf(byte[] data) {
        List<String> bare = new ArrayList<>();
        for (int i = 0; i < data.length; i++) {
            if (data[i] == '\r' && (i + 1 == data.length || data[i + 1] != '\n')) {
                bare.add("bare CR at byte " + i);
            } else if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r')) {
                bare.add("bare LF at byte " + i);
            }
        }
        assertThat(bare).as("line endings in the received data:%n%s", new String(data, StandardCharsets.UTF_8))
                .isEmpty();
        assertThat(new String(data, StandardCharsets.ISO_8859_1)).as("the end of the received data").endsWith("\r\n");
    }

    /** {@code text} with every line ending (CRLF, bare CR, bare LF) written as CRLF, as SMTP sends it. */
    static String crlf(String text) {
        return text.replaceAll("\r\n|\r|\n", "\r\n");
    }

    /** {@code text} without the line endings at its end. */
    static String trimEnd(String text) {
        return text.replaceAll("[\r\n]+$", "");
    }

    /** What became of an outbox file: sent with a receipt, or failed with an error file. */
    record Outcome(boolean sent, JsonNode json) {

        /** The field paths listed in a failed request's {@code errors[]}. */
        List<String> errorFields() {
            List<String> fields = new ArrayList<>();
            json.path("errors").forEach(e -> fields.add(e.path("field").asText()));
            return fields;
        }
    }

    /** Which of the outbox's folders hold a file of this name, for a failure message. */
    private static String whereIs(Path original) {
        List<String> places = new ArrayList<>();
        for (String folder : List.of("", ".queued", ".sent", ".failed")) {
            Path dir = folder.isEmpty() ? original.getParent() : original.resolveSibling(folder);
            try (var files = Files.list(dir)) {
                files.map(p -> p.getFileName().toString())
                        .filter(n -> n.startsWith(original.getFileName().toString().replaceFirst("\\.[a-z]+$", "")))
                        .forEach(n -> places.add((folder.isEmpty() ? "outbox/" : folder + "/") + n));
            } catch (java.io.IOException e) {
                // no such folder
            }
        }
        return places.isEmpty() ? "nowhere" : "in " + places;
    }

    /** Waits until {@code name} (relative to the outbox) is in {@code .sent/} or {@code .failed/} with its record. */
    static Outcome awaitOutcome(Gateway gateway, String name) {
        Path original = gateway.outbox().resolve(name);
        Path sent = original.resolveSibling(".sent").resolve(original.getFileName() + ".receipt.json");
        Path failed = original.resolveSibling(".failed").resolve(original.getFileName() + ".error.json");
        try {
            Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                    .until(() -> (Files.exists(sent) || Files.exists(failed)) && !Files.exists(original));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError(name + " has no outcome after 30 s; it is " + whereIs(original), e);
        }
        // the record is written after the move; read it once it is complete
        Path file = Files.exists(sent) ? sent : failed;
        JsonNode json = Awaitility.await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .ignoreExceptions().until(() -> JSON.readTree(file.toFile()), n -> n != null && n.has("status"));
        return new Outcome(file == sent, json);
    }

    static void write(Path file, byte[] content) {
        try {
            Files.createDirectories(file.getParent());
            Files.write(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
