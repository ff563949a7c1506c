package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import dev.mailgate.support.Gateway;

/**
 * Log forging: a file name or a rejected header value with line breaks must not appear in the log as lines of its
 * own (an operator would read {@code Bcc: victim@evil.example} as something Mailgate logged).
 */
class LogForgingTest {

    @TempDir
    Path dir;

    private final ListAppender<ILoggingEvent> captured = new ListAppender<>();
    private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

    @BeforeEach
    void capture() {
        captured.start();
        root.addAppender(captured);
    }

    @AfterEach
    void release() {
        root.detachAppender(captured);
    }

    @Test
    void line_breaks_in_file_names_and_rejected_values_are_escaped_in_the_log() {
        try (Gateway gateway = Gateway.start(dir, Gateway.folders(dir))) {
            gateway.drop("reports/scan\nINFO Forged: Bcc: victim@evil.example.pdf", new byte[] {'%', 'P', 'D', 'F'});
            gateway.drop("header.json", """
                    {"to": "alice@example.com", "subject": "Hi", "text": "x",
                     "headers": {"X-Order-Id\\r\\nBcc: victim@evil.example": "7"}}
                    """);
            JsonNode error = gateway.awaitFailed("header.json");
            gateway.awaitFailed("reports/scan\nINFO Forged: Bcc: victim@evil.example.pdf");

            assertThat(error.path("category").asText()).isEqualTo("invalid-request");
        }
        List<String> mentions = captured.list.stream().map(ILoggingEvent::getFormattedMessage)
                .filter(m -> m.contains("victim@evil.example")).toList();
        assertThat(mentions).isNotEmpty().allSatisfy(m -> assertThat(m).doesNotContain("\n", "\r"));
        // shown as escapes: \n in plain log lines; in the delivery line's quoted values the backslash of that escape
        // is itself escaped (\\n), so that no value can end its quotes early
        assertThat(String.join(" ", mentions)).containsPattern("\\\\+nINFO Forged")
                .containsPattern("\\\\+r\\\\+nBcc");
    }
}
