package dev.mailgate.channel.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.support.SpecialFiles;

/**
 * The outcome folders as someone who may write to the outbox can leave them, at the moments the end-to-end race
 * ({@code OutboxFolderSwapTest}) hits only by chance: a link or a FIFO in a folder's place before Mailgate opens it,
 * and a link put there after.
 */
class OpenFolderTest {

    @TempDir
    Path dir;

    @Test
    void queued_as_a_link_to_another_watched_folder_is_refused_and_nothing_moves_there() throws Exception {
        Path outbox = Files.createDirectories(dir.resolve("outbox"));
        Path other = Files.createDirectories(dir.resolve("team-b"));
        Files.createSymbolicLink(outbox.resolve(".queued"), Path.of("../team-b"));
        Files.writeString(outbox.resolve("a.json"), "{}");

        try (OpenFolder channel = OpenFolder.open(outbox)) {
            Throwable thrown = catchThrowable(() -> channel.sub(".queued", true));

            assertThat(thrown).isInstanceOf(OpenFolder.NotAFolder.class)
                    .hasToString(outbox.resolve(".queued") + ": is a symbolic link or not a folder; Mailgate moves "
                            + "files only into a real folder: remove it and Mailgate makes the folder");
        }
        try (var files = Files.list(other)) {
            assertThat(files).isEmpty();
        }
        assertThat(outbox.resolve("a.json")).exists();
    }

    @Test
    void queued_as_a_fifo_is_refused_without_opening_it() throws Exception {
        Path outbox = Files.createDirectories(dir.resolve("outbox"));
        Path fifo = SpecialFiles.mkfifo(outbox.resolve(".queued"));
        try (OpenFolder channel = OpenFolder.open(outbox)) {
            Throwable thrown = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> catchThrowable(() -> channel.sub(".queued", true)));

            assertThat(thrown).isInstanceOf(OpenFolder.NotAFolder.class);
        } finally {
            SpecialFiles.release(fifo);
        }
    }

    @Test
    void sent_swapped_for_a_link_after_it_was_opened_gets_the_file_and_its_record_not_the_link_s_target()
            throws Exception {
        Path outbox = Files.createDirectories(dir.resolve("outbox"));
        Path other = Files.createDirectories(dir.resolve("team-b"));
        Files.writeString(outbox.resolve("a.json"), "{}");

        try (OpenFolder channel = OpenFolder.open(outbox); OpenFolder sent = channel.sub(".sent", true)) {
            // swapped right after Mailgate opened it
            Files.move(outbox.resolve(".sent"), outbox.resolve(".sent-real"));
            Files.createSymbolicLink(outbox.resolve(".sent"), Path.of("../team-b"));

            channel.move("a.json", sent, "a.json");
            sent.write("a.json.receipt.json", "{\"status\":\"sent\"}".getBytes(StandardCharsets.UTF_8));
        }

        try (var files = Files.list(other)) {
            assertThat(files).isEmpty();
        }
        assertThat(outbox.resolve(".sent-real/a.json")).hasContent("{}");
        assertThat(outbox.resolve(".sent-real/a.json.receipt.json")).hasContent("{\"status\":\"sent\"}");
    }
}
