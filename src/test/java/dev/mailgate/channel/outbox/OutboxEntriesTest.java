package dev.mailgate.channel.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.outcome.KnownFailure;
import dev.mailgate.support.SpecialFiles;

/**
 * Reading an outbox file is bounded: the entry is checked before it is opened, but it can be swapped for a FIFO in
 * between (a race the end-to-end tests cannot win on purpose), so here the read is given the FIFO directly.
 */
class OutboxEntriesTest {

    @TempDir
    Path dir;

    private final OutboxEntries files = new OutboxEntries(Duration.ofMillis(500), Long.MAX_VALUE);

    @Test
    void a_fifo_swapped_in_after_the_check_is_let_go_and_refused_without_being_read() throws Exception {
        Path fifo = SpecialFiles.mkfifo(dir.resolve("swapped.json"));

        // opening a FIFO for reading waits for a writer; none comes but Mailgate's own release
        Throwable thrown = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> catchThrowable(() -> files.snapshot(fifo, dir.resolve("copies"))));

        assertThat(thrown).isInstanceOf(KnownFailure.class);
        assertThat(((KnownFailure) thrown).failure().reason()).contains("swapped.json was replaced by something that "
                + "is not a plain file (a FIFO) while Mailgate opened it; nothing was read from it");
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> readersInIo() == 0);
    }

    @Test
    void a_fifo_whose_writer_never_writes_is_refused_before_it_is_read() throws Exception {
        Path fifo = SpecialFiles.mkfifo(dir.resolve("silent.json"));
        // a writer that holds the FIFO open and writes nothing: the open succeeds, a read would wait
        CompletableFuture<FileChannel> writer = CompletableFuture.supplyAsync(() -> {
            try {
                return FileChannel.open(fifo, StandardOpenOption.WRITE);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            Throwable thrown = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> catchThrowable(() -> files.snapshot(fifo, dir.resolve("copies"))));

            assertThat(thrown).isInstanceOf(KnownFailure.class);
            assertThat(((KnownFailure) thrown).failure().reason()).contains("silent.json was replaced by something "
                    + "that is not a plain file (a FIFO)");
            Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> readersInIo() == 0);
        } finally {
            writer.get().close();
        }
    }

    @Test
    void a_plain_file_is_copied_without_following_links() throws Exception {
        Path file = Files.writeString(dir.resolve("plain.json"), "{\"to\": \"a@example.com\"}");

        Path copy = files.snapshot(file, dir.resolve("copies"));

        assertThat(copy.getFileName().toString()).isEqualTo("plain.json");
        assertThat(copy).hasSameTextualContentAs(file);
        assertThat(copy.startsWith(dir.resolve("copies"))).isTrue();
    }

    /** Opener threads busy in file I/O (an idle one waits for work in its pool). */
    private static long readersInIo() {
        return Thread.getAllStackTraces().entrySet().stream()
                .filter(e -> e.getKey().getName().startsWith("mailgate-open-"))
                .filter(e -> Arrays.stream(e.getValue()).anyMatch(f -> f.getClassName().startsWith("sun.nio")))
                .count();
    }
}
