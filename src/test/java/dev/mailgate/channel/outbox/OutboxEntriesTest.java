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
    void a_fifo_swapped_in_after_the_check_fails_the_read_within_the_timeout_and_frees_the_reader() throws Exception {
        Path fifo = SpecialFiles.mkfifo(dir.resolve("swapped.json"));

        // opening a FIFO for reading waits for a writer; none comes
        Throwable thrown = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> catchThrowable(() -> files.snapshot(fifo, dir.resolve("copies"))));

        assertThat(thrown).isInstanceOf(KnownFailure.class);
        assertThat(((KnownFailure) thrown).failure().reason()).contains("could not be read within 500 ms",
                "mailgate.outbox.read-timeout");
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> readersInIo() == 0);
    }

    @Test
    void a_fifo_whose_writer_never_writes_fails_the_read_within_the_timeout_and_frees_the_reader() throws Exception {
        Path fifo = SpecialFiles.mkfifo(dir.resolve("silent.json"));
        // a writer that holds the FIFO open and writes nothing: the open succeeds, the read waits
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

    /**
     * A second name given to the file while it is read (in the real attack: the entry replaced by a hard link to
     * another file between the look and the open) is noticed by the look after the copy. A FIFO holds the read open
     * until the link is made, so the order is certain.
     */
    @Test
    void a_second_name_added_between_the_look_and_the_copy_is_refused_after_the_copy() throws Exception {
        OutboxEntries entries = new OutboxEntries(Duration.ofSeconds(20), Long.MAX_VALUE);
        Path file = SpecialFiles.mkfifo(dir.resolve("linked.json"));
        CompletableFuture<Path> read = CompletableFuture.supplyAsync(() -> {
            try {
                return entries.snapshot(file, dir.resolve("copies"));
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        // opening for writing waits until the reader has opened: the look before the open is done
        try (FileChannel writer = FileChannel.open(file, StandardOpenOption.WRITE)) {
            writer.write(java.nio.ByteBuffer.wrap("{\"to\": \"a@example.com\"}".getBytes()));
            Files.createLink(dir.resolve("secret-name"), file);
        }

        Throwable thrown = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> catchThrowable(read::join));

        assertThat(thrown).hasCauseInstanceOf(KnownFailure.class);
        assertThat(((KnownFailure) thrown.getCause()).failure().reason()).contains("linked.json has 2 names",
                "did not use what it read");
        try (var copies = Files.walk(dir.resolve("copies"))) {
            assertThat(copies.filter(Files::isRegularFile)).as("copies left behind").isEmpty();
        }
    }

    /**
     * Each FIFO here is moved away after the read has opened it and before the timeout's release, so the reader is
     * stuck for good (no writer will ever come): such readers are capped, the next read fails at once naming why,
     * and the reader threads come back once the FIFOs get a writer.
     */
    @Test
    void fifos_swapped_out_again_before_the_release_never_hold_more_than_the_capped_readers() throws Exception {
        OutboxEntries entries = new OutboxEntries(Duration.ofMillis(500), Long.MAX_VALUE, 2);
        java.util.List<Path> away = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Path fifo = SpecialFiles.mkfifo(dir.resolve("gone-" + i + ".json"));
                Path moved = dir.resolve("away-" + i);
                long before = readersInIo();
                CompletableFuture<Throwable> read = CompletableFuture.supplyAsync(
                        () -> catchThrowable(() -> entries.snapshot(fifo, dir.resolve("copies"))));
                // swapped out once a reader waits in it (or, with every reader stuck, the read has failed)
                Awaitility.await().atMost(Duration.ofSeconds(20))
                        .until(() -> readersInIo() > before || read.isDone());
                Files.move(fifo, moved);
                away.add(moved);
                assertThat(assertTimeoutPreemptively(Duration.ofSeconds(20), () -> read.join()))
                        .isInstanceOf(KnownFailure.class);
            }
            assertThat(readersInIo()).as("reader threads stuck in FIFOs").isLessThanOrEqualTo(2);

            Path plain = Files.writeString(dir.resolve("plain.json"), "{}");
            Throwable thrown = assertTimeoutPreemptively(Duration.ofSeconds(20),
                    () -> catchThrowable(() -> entries.snapshot(plain, dir.resolve("copies"))));

            assertThat(thrown).isInstanceOf(KnownFailure.class);
            assertThat(((KnownFailure) thrown).failure().reason()).contains("no outbox reader was free",
                    "2 of 2 are held by reads that never ended");
            assertThat(((KnownFailure) thrown).failure().advice()).contains("restart Mailgate");
        } finally {
            away.forEach(SpecialFiles::release);
        }
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> readersInIo() == 0);
        Path plain = Files.writeString(dir.resolve("after.json"), "{}");
        assertThat(entries.snapshot(plain, dir.resolve("copies"))).hasContent("{}");
    }

    /** Outbox reader threads busy in file I/O (an idle one waits for work in its pool). */
    private static long readersInIo() {
        return Thread.getAllStackTraces().entrySet().stream()
                .filter(e -> e.getKey().getName().equals("mailgate-outbox-read"))
                .filter(e -> Arrays.stream(e.getValue()).anyMatch(f -> f.getClassName().startsWith("sun.nio")))
                .count();
    }
}
