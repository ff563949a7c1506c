package dev.mailgate.request;

import java.io.IOException;
import java.nio.channels.Channel;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opening (and reading) a file that whoever may write its folder can swap for a FIFO at any moment: looking at an entry
 * first does not help, the swap can come between the look and the {@code open()}. Opening a FIFO for reading waits in
 * the kernel until a writer comes, and nothing in Java ends that wait (an interrupt does not, and closing the directory
 * handle the open goes through waits for it too); a FIFO that does have a writer opens at once, and then a read from it
 * can wait for ever. So:
 * <ul>
 * <li>{@link #run} does the open on one of at most {@value #THREADS} daemon threads and waits for it within a time
 * limit: the caller (a channel's consumer thread) is never held longer. While it waits it lets go of an opener stuck in
 * a FIFO ({@link #releaseFifo}), which then returns the FIFO, open;</li>
 * <li>{@link #requirePlain} refuses whatever was opened that is not a regular file, before a byte is read from it.</li>
 * </ul>
 * An opener whose FIFO was removed after it got stuck cannot be let go (nobody can open that FIFO any more), nor one
 * whose FIFO Mailgate may not open for writing (mode {@code 0444}): its thread stays stuck until the process ends. At
 * most {@value #PER_FOLDER} can be for one folder, and {@value #THREADS} in all: after that, opens there fail at once
 * with a reason instead of taking more threads, until a restart. Per folder, so that whoever may write one folder (the
 * outbox's attachments) cannot stop the opens in another (the queue's copies).
 */
public final class BoundedOpen {

    private static final Logger LOG = LoggerFactory.getLogger(BoundedOpen.class);

    /** How long opening one attachment may take: a local file opens in microseconds. */
    public static final Duration TIMEOUT = Duration.ofSeconds(10);
    /** The most opener threads; also how many a stream of FIFO swaps can keep stuck for good. */
    public static final int THREADS = 16;
    /** How many openers stuck for good one folder may hold. */
    public static final int PER_FOLDER = 4;
    /** An open not done by then is helped along: the entry is released if it is a FIFO, and again every so often. */
    private static final long GRACE_MILLIS = 10;
    private static final long RELEASE_EVERY_MILLIS = 20;
    /** Looks (and opens) in a row per release: see {@link #releaseFifo}. */
    private static final int RELEASE_TRIES = 64;

    private static final ThreadPoolExecutor OPENERS = openers();
    /** Openers given up on that have not returned yet. */
    private static final AtomicInteger STUCK = new AtomicInteger();
    /** The same, by the folder they were opening in. */
    private static final ConcurrentHashMap<Path, Integer> STUCK_IN = new ConcurrentHashMap<>();

    private BoundedOpen() {
    }

    /** Something that opens or reads files. */
    @FunctionalInterface
    public interface IoTask<T> {
        T run() throws IOException;
    }

    /** What was opened is not a regular file: a FIFO, a socket, a terminal. Nothing was read from it. */
    public static final class NotAPlainFile extends IOException {
        private static final long serialVersionUID = 1L;

        NotAPlainFile(IOException cause) {
            super("not a regular file once opened (" + cause.getMessage() + ")", cause);
        }
    }

    /**
     * The task did not end within its time, or was not started because earlier ones in its folder (or in all) are stuck
     * ({@link #exhausted()}).
     */
    public static final class Stuck extends Exception {
        private static final long serialVersionUID = 1L;
        private final boolean exhausted;

        Stuck(boolean exhausted, String message) {
            super(message);
            this.exhausted = exhausted;
        }

        /** Not even started: earlier opens in its folder (or every opener thread) never returned. */
        public boolean exhausted() {
            return exhausted;
        }
    }

    /**
     * Runs {@code task} on an opener thread and returns what it returns (or throws what it throws), waiting at most
     * {@code timeout}. After a moment, and every 20 ms until then, {@code release} is called to let go of an opener
     * stuck in {@code open()} of a FIFO (see {@link #releaseFifo}). A task given up on may still end later: what it
     * returns then goes to {@code discard} (close it there).
     *
     * @param folder the folder the task opens in, whose stuck openers it is counted with
     * @param what for the log line of a task given up on, e.g. {@code "Opening attachments[0].path 'x'"}
     * @throws Stuck when the task did not end in time (then it was interrupted, which ends a read), or could not start
     */
    public static <T> T run(Path folder, String what, IoTask<T> task, Duration timeout, Runnable release,
            Consumer<? super T> discard) throws IOException, Stuck, InterruptedException {
        int here = stuckIn(folder);
        if (here >= PER_FOLDER || STUCK.get() >= THREADS) {
            throw new Stuck(true, (here >= PER_FOLDER ? here + " earlier opens in its folder" : STUCK.get()
                    + " earlier opens") + " of files replaced by FIFOs never returned, and hold their threads until "
                    + "Mailgate restarts");
        }
        Job<T> job = new Job<>(folder, task, discard);
        OPENERS.execute(job);
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        long nextRelease = start + TimeUnit.MILLISECONDS.toNanos(GRACE_MILLIS);
        try {
            while (true) {
                long now = System.nanoTime();
                if (now - deadline >= 0) {
                    break;
                }
                if (job.await(Math.min(deadline, nextRelease) - now)) {
                    return job.outcome();
                }
                if (System.nanoTime() - nextRelease >= 0) {
                    release.run();
                    nextRelease = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RELEASE_EVERY_MILLIS);
                }
            }
        } catch (InterruptedException e) {
            switch (job.abandon()) {
                case DONE -> discard(job, discard);
                case NOT_STARTED -> OPENERS.remove(job);
                case RUNNING -> release.run();
            }
            throw e;
        }
        switch (job.abandon()) {
            case DONE:
                return job.outcome();
            case NOT_STARTED:
                OPENERS.remove(job);
                throw new Stuck(false, "did not start within " + timeout.toMillis() + " ms: every opener thread is "
                        + "busy");
            default:
                // one more try: should it work, the opener ends and counts itself out again
                release.run();
                LOG.warn("{} did not return within {} ms: the file was replaced by a FIFO (named pipe) that nobody "
                        + "writes to, or its file system does not answer. The request fails; {} of {} opener threads "
                        + "are held by opens like this, {} of {} for this folder (a restart frees them)", what,
                        timeout.toMillis(), STUCK.get(), THREADS, stuckIn(folder), PER_FOLDER);
                throw new Stuck(false, "did not return within " + timeout.toMillis() + " ms");
        }
    }

    /** Openers stuck in {@code folder} (opens there given up on that have not returned). */
    static int stuckIn(Path folder) {
        return STUCK_IN.getOrDefault(folder, 0);
    }

    /** Openers stuck in all. */
    static int stuck() {
        return STUCK.get();
    }

    private static void countStuck(Path folder, int change) {
        STUCK.addAndGet(change);
        // a folder without stuck openers leaves the map
        STUCK_IN.compute(folder, (f, n) -> {
            int now = (n == null ? 0 : n) + change;
            return now == 0 ? null : now;
        });
    }

    /** What a task that ended after all gave, closed: nobody takes it any more. */
    private static <T> void discard(Job<T> job, Consumer<? super T> discard) {
        try {
            T value = job.outcome();
            if (value != null) {
                discard.accept(value);
            }
        } catch (IOException | RuntimeException e) {
            // it failed: nothing to close
        }
    }

    /**
     * {@code channel}, once it is known to read a regular file; else it is closed and {@link NotAPlainFile} thrown.
     * {@link FileChannel#position()} is {@code lseek(fd, 0, SEEK_CUR)}, which a FIFO, a socket or a terminal refuses
     * ({@code ESPIPE}, "Illegal seek"): a FIFO opened in the moment after it was looked at is caught here, before a
     * read that could wait for ever.
     */
    public static FileChannel requirePlain(FileChannel channel) throws NotAPlainFile {
        try {
            channel.position();
            return channel;
        } catch (IOException e) {
            closeQuietly(channel);
            throw new NotAPlainFile(e);
        }
    }

    /**
     * Lets go of whoever waits in {@code open()} for reading of the FIFO that {@code look} finds (if it finds a FIFO,
     * or another file that is not regular): opening it for reading and writing never blocks on Linux and counts as its
     * writer, and closing it again gives the waiting reader a FIFO without a writer, which {@link #requirePlain}
     * refuses. Nothing is written. Best effort: an entry that is gone, or that cannot be opened so, is left alone.
     * <p>
     * Whoever swaps the FIFO in may swap it out again at once, and between the look and the open: the look and the
     * open are tried {@value #RELEASE_TRIES} times in a row (some 0.1 ms) until what was opened is a FIFO. A FIFO that
     * is never there again cannot be released; {@link #run} caps what that costs.
     */
    public static void releaseFifo(IoTask<BasicFileAttributes> look, IoTask<? extends Channel> openReadWrite) {
        for (int i = 0; i < RELEASE_TRIES; i++) {
            try {
                if (!look.run().isOther()) {
                    continue;
                }
                try (Channel opened = openReadWrite.run()) {
                    if (!(opened instanceof FileChannel file) || !seeks(file)) {
                        LOG.debug("Released the opener of a FIFO");
                        return;
                    }
                    // a regular file was swapped back in between the look and the open: closed unread and unwritten
                }
            } catch (IOException | RuntimeException e) {
                // gone, swapped again, not openable for writing, or its directory handle closed meanwhile
                LOG.debug("Could not release the opener of a FIFO: {}", e.toString());
            }
        }
    }

    private static boolean seeks(FileChannel channel) {
        try {
            channel.position();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** {@link #releaseFifo(IoTask, IoTask)} for the entry {@code file} itself, a link in its last name not followed. */
    public static void releaseFifo(Path file) {
        releaseFifo(() -> Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS),
                () -> FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE,
                        LinkOption.NOFOLLOW_LINKS));
    }

    public static void closeQuietly(AutoCloseable closeable) {
        if (closeable == null) {
            return;
        }
        try {
            closeable.close();
        } catch (Exception e) {
            // a file that was only read, or a directory handle: nothing was lost
        }
    }

    private static ThreadPoolExecutor openers() {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(THREADS, THREADS, 30, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), task -> {
                    // daemon: a thread stuck in a FIFO's open() must not keep the JVM alive
                    Thread thread = new Thread(task, "mailgate-open-" + n.incrementAndGet());
                    thread.setDaemon(true);
                    return thread;
                });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    /** Where a task was when it was given up on. */
    private enum Taken { NOT_STARTED, RUNNING, DONE }

    /** One task, and who has it: the opener thread, the caller waiting for it, or nobody (given up on). */
    private static final class Job<T> implements Runnable {

        private enum State { QUEUED, RUNNING, DONE, ABANDONED }

        private final Path folder;
        private final IoTask<T> task;
        private final Consumer<? super T> discard;
        private State state = State.QUEUED;
        private Thread runner;
        private T value;
        private Throwable failure;

        Job(Path folder, IoTask<T> task, Consumer<? super T> discard) {
            this.folder = folder;
            this.task = task;
            this.discard = discard;
        }

        @Override
        public void run() {
            synchronized (this) {
                if (state != State.QUEUED) {
                    return;
                }
                state = State.RUNNING;
                runner = Thread.currentThread();
            }
            T result = null;
            Throwable thrown = null;
            try {
                result = task.run();
            } catch (Throwable t) {
                thrown = t;
            }
            synchronized (this) {
                runner = null;
                if (state == State.RUNNING) {
                    state = State.DONE;
                    value = result;
                    failure = thrown;
                    notifyAll();
                    return;
                }
            }
            // given up on while it ran: nobody takes the result, and it no longer holds a thread
            countStuck(folder, -1);
            if (result != null) {
                discard.accept(result);
            }
            // clear a late interrupt before the thread takes its next task
            Thread.interrupted();
        }

        /** Waits up to {@code nanos} for the task to end; true when it has. */
        synchronized boolean await(long nanos) throws InterruptedException {
            long deadline = System.nanoTime() + nanos;
            while (state != State.DONE) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            return true;
        }

        /**
         * Gives the task up, unless it is done: {@link Taken#NOT_STARTED} (it never will start),
         * {@link Taken#RUNNING} (it is interrupted, which ends a read but not a FIFO's open(), and counts as stuck
         * until it returns), or {@link Taken#DONE} (it ended after all: its outcome is there).
         */
        synchronized Taken abandon() {
            switch (state) {
                case QUEUED:
                    state = State.ABANDONED;
                    return Taken.NOT_STARTED;
                case RUNNING:
                    state = State.ABANDONED;
                    countStuck(folder, 1);
                    runner.interrupt();
                    return Taken.RUNNING;
                default:
                    return Taken.DONE;
            }
        }

        synchronized T outcome() throws IOException {
            if (failure instanceof IOException io) {
                throw io;
            }
            if (failure instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (failure instanceof Error error) {
                throw error;
            }
            if (failure != null) {
                throw new IOException(failure);
            }
            return value;
        }
    }
}
