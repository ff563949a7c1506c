package dev.mailgate.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The hard-link race as someone who may write to the outbox runs it: puts a new plain file holding {@code inside}
 * at {@code target}, then a second name of {@code secret} (a hard link), each by an atomic rename, with a pause of
 * 0.2 ms after each, until closed. Both have the same length and modification time, so the file consumer's read lock
 * sees one file that does not change.
 */
public final class HardLinkFlipper implements AutoCloseable {

    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger flips = new AtomicInteger();
    private final Thread thread;

    public HardLinkFlipper(Path target, String inside, Path secret) throws IOException {
        if (Files.size(secret) != inside.length()) {
            throw new IllegalArgumentException("the secret must be as long as the inside content");
        }
        FileTime time = FileTime.from(Instant.now().minusSeconds(60));
        Files.setLastModifiedTime(secret, time);
        Path file = target.resolveSibling("." + target.getFileName() + ".file");
        Path link = target.resolveSibling("." + target.getFileName() + ".link");
        thread = new Thread(() -> {
            try {
                while (running.get()) {
                    Files.writeString(file, inside);
                    Files.setLastModifiedTime(file, time);
                    Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
                    LockSupport.parkNanos(200_000);
                    Files.deleteIfExists(link);
                    Files.createLink(link, secret);
                    Files.move(link, target, StandardCopyOption.ATOMIC_MOVE);
                    LockSupport.parkNanos(200_000);
                    flips.addAndGet(2);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, "hard-link-flipper");
        thread.setDaemon(true);
        thread.start();
    }

    /** How often the target changed so far. */
    public int flips() {
        return flips.get();
    }

    @Override
    public void close() throws InterruptedException {
        running.set(false);
        thread.join(10_000);
    }
}
