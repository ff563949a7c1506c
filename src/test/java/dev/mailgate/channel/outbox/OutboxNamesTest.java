package dev.mailgate.channel.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Outcome names that always leave room for their record. */
class OutboxNamesTest {

    @TempDir
    Path dir;

    private String freeName(String name, String suffix) {
        return OutboxNames.free(name, suffix, n -> Files.exists(dir.resolve(n)));
    }

    @Test
    void outcome_names_are_shortened_on_a_character_boundary_so_that_the_record_fits() {
        String name = "Rechnung-Größe-".repeat(20) + ".json";

        String fitted = freeName(name, ".receipt.json");

        assertThat(OutboxNames.bytes("." + fitted + ".receipt.json.tmp")).isLessThanOrEqualTo(255);
        assertThat(fitted).startsWith("Rechnung-Größe-Rechnung").endsWith(".json").matches(".*~[0-9a-f]{8}\\.json")
                .doesNotContain("\uFFFD");
        assertThat(freeName("short.json", ".receipt.json")).isEqualTo("short.json");
        assertThat(freeName(name.replace("Rechnung", "Invoice!"), ".receipt.json")).isNotEqualTo(fitted);
    }
}
