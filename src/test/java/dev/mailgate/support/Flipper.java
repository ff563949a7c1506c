package dev.mailgate.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A race of issue 14 as an attacker runs it: a thread that swaps what a name is (a file, a link, a FIFO, a folder)
 * over and over, as fast as it can, until closed. Subclasses say what one round does ({@link #round()}); the
 * thread, the count and the stop are here.
 */
public abstract class Flipper implements AutoCloseable {

    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger flips = new AtomicInteger();
    private Thread thread;

    /** Starts flipping; called by a subclass once it is set up. */
    protected final void start(String name) {
        thread = new Thread(() -> {
            try {
                while (running.get()) {
                    flips.addAndGet(round());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, name);
        thread.setDaemon(true);
        thread.start();
    }

    /** One round of swaps; returns how often the name changed in it. */
    protected abstract int round() throws IOException;

    /** How often the name changed so far. */
    public int flips() {
        return flips.get();
    }

    /** Stops flipping, and waits for the round in progress to end. */
    @Override
    public void close() throws Exception {
        running.set(false);
        thread.join(10_000);
    }
}
