package dev.mailgate.channel.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.outcome.Receipt;

/**
 * The outbox puts a request on the queue first and moves its file into {@code .queued/} after; a quick consumer can
 * send the mail and record its outcome in between. Seen in full test runs: the outcome looked in {@code .queued/}
 * (not yet there), then where the file was dropped (just moved away), concluded it had been moved by someone else,
 * and the file stayed in {@code .queued/} with no receipt until the next start. Here the outbox's move and the
 * outcome run at the same moment, many times, with the timing jittered.
 */
class OutcomeBeforeHandOffTest {

    private static final int ROUNDS = 300;

    @TempDir
    Path dir;

    @Test
    void an_outcome_racing_the_move_into_queued_always_finishes_the_file() throws Exception {
        race(false);
    }

    /**
     * A file of the same name still waits in {@code .queued/} (an earlier request of a scanner that always writes
     * {@code scan.pdf}): this one waits there as {@code scan-2.pdf}, and the outcome must find it under its own name
     * where it was dropped.
     */
    @Test
    void an_outcome_racing_the_move_into_queued_finishes_a_file_whose_name_was_taken_there() throws Exception {
        race(true);
    }

    private void race(boolean nameTakenInQueued) throws Exception {
        OutboxFiles files = new OutboxFiles(null);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        List<String> unfinished = new ArrayList<>();
        try {
            for (int i = 0; i < ROUNDS; i++) {
                String name = "race-" + i + ".json";
                if (nameTakenInQueued) {
                    Files.writeString(Files.createDirectories(dir.resolve(".queued")).resolve(name), "earlier");
                }
                Path dropped = Files.writeString(dir.resolve(name), "{\"to\": \"a@example.com\"}");
                String id = OutboxFiles.deliveryId(dropped);
                Path place = files.queuedPlace(dropped);
                CountDownLatch go = new CountDownLatch(1);
                Future<?> handOff = threads.submit(() -> {
                    go.await();
                    jitter();
                    try {
                        files.queue(dropped, place);
                    } catch (NoSuchFileException e) {
                        // the outcome took the file from where it was dropped first: as the outbox handles it
                    }
                    return null;
                });
                Future<?> outcome = threads.submit(() -> {
                    go.await();
                    jitter();
                    files.sent(place, new Receipt(id, "<" + id + "@test>", "sender@contoso.test", 1, "250 OK",
                            Instant.now(), "localhost:25", 1, false));
                    return null;
                });
                go.countDown();
                handOff.get(10, TimeUnit.SECONDS);
                outcome.get(10, TimeUnit.SECONDS);

                // in .sent/ under the name it had where the outcome found it: dropped, or in .queued/
                String waited = place.getFileName().toString();
                boolean finished = Files.exists(dir.resolve(".sent").resolve(name))
                        && Files.exists(dir.resolve(".sent").resolve(name + ".receipt.json"))
                        || Files.exists(dir.resolve(".sent").resolve(waited))
                        && Files.exists(dir.resolve(".sent").resolve(waited + ".receipt.json"));
                if (!finished || Files.exists(place) || Files.exists(dropped)) {
                    unfinished.add(name + (Files.exists(place) ? " (left in .queued/)" : "")
                            + (Files.exists(dropped) ? " (left in the outbox)" : ""));
                }
            }
        } finally {
            threads.shutdownNow();
        }

        assertThat(unfinished).as("files that did not end in .sent/ with their receipt, of %d", ROUNDS).isEmpty();
    }

    /** Up to a few tens of microseconds, so that each side comes first in some rounds. */
    private static void jitter() {
        LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(60_000));
    }
}
