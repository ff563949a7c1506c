package dev.mailgate.config;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A slow start-up step that needs nothing from the rest of the start-up (opening the journal's database, starting
 * the embedded broker), run on its own thread so that it overlaps with the other steps instead of adding to them:
 * most of start-up is loading and initialising classes, which a second core can do at the same time.
 *
 * @param <T> what the step makes
 */
public final class Background<T> {

    private final FutureTask<T> task;

    private Background(FutureTask<T> task) {
        this.task = task;
    }

    /** Starts {@code step} now on a thread called {@code name}. */
    public static <T> Background<T> start(String name, Callable<T> step) {
        FutureTask<T> task = new FutureTask<>(step);
        Thread thread = new Thread(task, name);
        // never what keeps the JVM alive: whoever needs the result waits for it
        thread.setDaemon(true);
        thread.start();
        return new Background<>(task);
    }

    /** Waits for the step and returns its result, or throws the step's own exception (a configuration problem too). */
    public T join() throws Exception {
        try {
            return task.get();
        } catch (ExecutionException e) {
            throw unwrapped(e);
        }
    }

    /**
     * As {@link #join()}, but waits no longer than {@code limit}: for cleaning up after a failed start-up, which
     * must not hang on a step that cannot finish (a broker waiting for the lock of a folder another broker uses).
     *
     * @throws TimeoutException when the step is still running
     */
    public T join(Duration limit) throws Exception {
        try {
            return task.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw unwrapped(e);
        }
    }

    private static Exception unwrapped(ExecutionException e) {
        if (e.getCause() instanceof Exception failure) {
            return failure;
        }
        if (e.getCause() instanceof Error error) {
            throw error;
        }
        return e;
    }
}
