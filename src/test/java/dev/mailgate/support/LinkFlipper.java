package dev.mailgate.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The attachment race of issue 14 as an attacker runs it: flips {@code target} between a plain file holding
 * {@code inside} and a symbolic link to {@code secret}, each by an atomic rename (so that {@code target} always
 * exists), as fast as it can with a pause of 0.1 ms after each flip, until closed.
 */
public final class LinkFlipper implements AutoCloseable {

    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger flips = new AtomicInteger();
    private final Thread thread;

    public LinkFlipper(Path target, String inside, Path secret) throws IOException {
        Files.writeString(target, inside);
        Path file = target.resolveSibling("." + target.getFileName() + ".file");
        Path link = target.resolveSibling("." + target.getFileName() + ".link");
        thread = new Thread(() -> {
            try {
                while (running.get()) {
                    Files.deleteIfExists(link);
                    Files.createSymbolicLink(link, secret);
                    Files.move(link, target, StandardCopyOption.ATOMIC_MOVE);
                    LockSupport.parkNanos(100_000);
                    Files.writeString(file, inside);
                    Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
                    LockSupport.parkNanos(100_000);
                    flips.addAndGet(2);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, "attachment-flipper");
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
