package dev.mailgate.channel.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Outcome names that always leave room for their record. */
class OutboxFilesTest {

    @TempDir
    Path dir;

    @Test
    void outcome_names_are_shortened_on_a_character_boundary_so_that_the_record_fits() {
        String name = "Rechnung-Größe-".repeat(20) + ".json";

        String fitted = OutboxFiles.freeName(dir, name, ".receipt.json");

        assertThat(OutboxFiles.bytes("." + fitted + ".receipt.json.tmp")).isLessThanOrEqualTo(255);
        assertThat(fitted).startsWith("Rechnung-Größe-Rechnung").endsWith(".json").matches(".*~[0-9a-f]{8}\\.json")
                .doesNotContain("\uFFFD");
        assertThat(OutboxFiles.freeName(dir, "short.json", ".receipt.json")).isEqualTo("short.json");
        assertThat(OutboxFiles.freeName(dir, name.replace("Rechnung", "Invoice!"), ".receipt.json"))
                .isNotEqualTo(fitted);
    }
}
