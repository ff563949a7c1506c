package dev.mailgate.channel.outbox;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A few threads for file system calls that may never return, so that a channel's own thread never waits on one
 * longer than a time limit. Opening a FIFO for reading waits for a writer, and no interrupt ends that wait: whoever may
 * write to the outbox can put a FIFO where Mailgate is about to open a file or a folder, right after Mailgate looked
 * at it. Such a call holds its thread until a writer comes; when the FIFO is gone by then (swapped out again), it holds
 * it for good. There are at most {@code max} threads: a call that finds none free within its limit fails with
 * {@link NoneFree}, saying how many are held by calls that never ended, instead of a new thread being made each time.
 */
final class BlockingFileCalls {

    private static final Logger LOG = LoggerFactory.getLogger(BlockingFileCalls.class);
    /** How long a call given up on may take to end after it was interrupted and released, before it counts as stuck. */
    private static final long GRACE_MILLIS = 1000;

    private static final int RUNNING = 0;
    private static final int ENDED = 1;
    /** The caller stopped waiting: a result that still comes goes to {@code late}. */
    private static final int GIVEN_UP = 2;
    /** Given up on, and still running after the release: counted in {@link #stuck}. */
    private static final int STUCK = 3;

    private final String what;
    private final int max;
    private final Semaphore free;
    private final ThreadPoolExecutor threads;
    private final AtomicInteger stuck = new AtomicInteger();

    /**
     * @param what the threads in words, for log lines and reasons ("outbox reader")
     * @param name the threads' name
     * @param max  how many there may be
     */
    BlockingFileCalls(String what, String name, int max) {
        this.what = what;
        this.max = max;
        this.free = new Semaphore(max);
        // daemon threads: one stuck in a FIFO's open() must not keep the JVM alive
        this.threads = new ThreadPoolExecutor(max, max, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), task -> {
            Thread thread = new Thread(task, name);
            thread.setDaemon(true);
            return thread;
        });
        threads.allowCoreThreadTimeOut(true);
    }

    /** No thread was free within the time limit. */
    static final class NoneFree extends Exception {

        private static final long serialVersionUID = 1L;

        private final int stuck;

        NoneFree(String message, int stuck) {
            super(message);
            this.stuck = stuck;
        }

        /** How many threads were held by calls that never ended. */
        int stuck() {
            return stuck;
        }
    }

    /**
     * Runs {@code call} (on {@code target}, a path for the log) on one of the threads and waits at most {@code limit}
     * for a free thread, and as long again for
     * the result. When the call does not end in time it is interrupted (which ends a read, not an {@code open()}) and
     * {@code release} is run (e.g. opening the FIFO as its writer); a call that still has not ended then counts as
     * stuck, with an ERROR line, until it does end. A result that comes after it was given up on goes to
     * {@code late} (to close what it opened).
     *
     * @throws TimeoutException   the call did not end within {@code limit}
     * @throws NoneFree           no thread was free within {@code limit}
     * @throws ExecutionException the call failed; its cause is the call's exception
     */
    <T> T call(String target, Callable<T> call, Duration limit, Runnable release, Consumer<? super T> late)
            throws TimeoutException, NoneFree, ExecutionException, InterruptedException {
        if (!free.tryAcquire(limit.toMillis(), TimeUnit.MILLISECONDS)) {
            int held = stuck.get();
            throw new NoneFree("no " + what + " was free within " + limit.toMillis() + " ms: " + held + " of " + max
                    + (held == 1 ? " is" : " are") + " held by reads that never ended", held);
        }
        AtomicInteger phase = new AtomicInteger(RUNNING);
        CountDownLatch ended = new CountDownLatch(1);
        Future<T> future;
        try {
            future = threads.submit(() -> {
                T result = null;
                try {
                    result = call.call();
                    return result;
                } finally {
                    free.release();
                    int before = phase.getAndSet(ENDED);
                    if (before != RUNNING && result != null) {
                        late.accept(result);
                    }
                    if (before == STUCK) {
                        int left = stuck.decrementAndGet();
                        LOG.warn("The {} stuck in {} has ended; stuck now: {} of {}", what, target, left, max);
                    }
                    ended.countDown();
                }
            });
        } catch (RuntimeException e) {
            free.release();
            throw e;
        }
        try {
            return future.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            if (!phase.compareAndSet(RUNNING, GIVEN_UP)) {
                // it ended just now
                return future.get();
            }
            future.cancel(true);
            release.run();
            if (!ended.await(GRACE_MILLIS, TimeUnit.MILLISECONDS)) {
                int now = stuck.incrementAndGet();
                if (phase.compareAndSet(GIVEN_UP, STUCK)) {
                    LOG.error("An {} is stuck in {}, which never answered and could not be released (a FIFO put in "
                            + "and taken away again?); stuck now: {} of {}{}", what, target, now, max, now == max
                                    ? ": no file can be read until one ends; restart Mailgate to free them" : "");
                } else {
                    stuck.decrementAndGet();
                }
            }
            throw e;
        } catch (InterruptedException e) {
            phase.compareAndSet(RUNNING, GIVEN_UP);
            future.cancel(true);
            throw e;
        }
    }
}
