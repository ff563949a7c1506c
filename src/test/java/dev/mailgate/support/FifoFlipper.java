package dev.mailgate.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.locks.LockSupport;

/**
 * The FIFO race of issue 14's review as an attacker runs it: flips {@code target} between a plain file holding
 * {@code inside} and a FIFO (named pipe) that nobody writes to, each by an atomic rename (so that {@code target} always
 * exists), as fast as it can with a pause of 0.1 ms after each flip, until closed. Whoever opens the FIFO for reading
 * waits in {@code open()} until a writer comes. Mirrors {@link LinkFlipper}.
 * <p>
 * The file and the FIFO are two inodes that keep a second name each ({@code .<target>.file}, {@code .<target>.fifo})
 * and are linked over {@code target} in turn: the JDK cannot make FIFOs, and the one {@code mkfifo} made stays
 * reachable, so that {@link #close} can let go of whoever is still stuck in its {@code open()} (code without the fix)
 * and the test ends.
 */
public final class FifoFlipper extends Flipper {

    private final Path target;
    private final Path file;
    private final Path fifo;
    private final Path next;
    private final long fifoPauseNanos;
    private FileChannel writer;

    public FifoFlipper(Path target, String inside) throws IOException, InterruptedException {
        this(target, inside, 100_000);
    }

    /**
     * A FIFO in place only for the moment between two renames (some microseconds), the plain file for 0.1 ms: a check
     * of {@code target} mostly sees the plain file, and an open right after a look still meets the FIFO now and then.
     */
    public static FifoFlipper briefFifo(Path target, String inside) throws IOException, InterruptedException {
        return new FifoFlipper(target, inside, 0);
    }

    private FifoFlipper(Path target, String inside, long fifoPauseNanos) throws IOException, InterruptedException {
        this.target = target;
        this.fifoPauseNanos = fifoPauseNanos;
        Files.writeString(target, inside);
        String name = target.getFileName().toString();
        this.file = Files.writeString(target.resolveSibling("." + name + ".file"), inside);
        this.fifo = SpecialFiles.mkfifo(target.resolveSibling("." + name + ".fifo"));
        this.next = target.resolveSibling("." + name + ".next");
        start("fifo-flipper");
    }

    @Override
    protected int round() throws IOException {
        Files.deleteIfExists(next);
        Files.createLink(next, fifo);
        Files.move(next, target, StandardCopyOption.ATOMIC_MOVE);
        if (fifoPauseNanos > 0) {
            LockSupport.parkNanos(fifoPauseNanos);
        }
        Files.createLink(next, file);
        Files.move(next, target, StandardCopyOption.ATOMIC_MOVE);
        LockSupport.parkNanos(100_000);
        return 2;
    }

    /**
     * Holds the FIFO open for writing (and writes nothing) until closed: then opening it for reading returns at once,
     * and a read from it waits for ever.
     */
    public FifoFlipper withWriter() throws IOException {
        writer = FileChannel.open(fifo, StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        return this;
    }

    /** Lets go of every reader waiting in {@code open()} of the FIFO now: it gets a writer that leaves at once. */
    public void release() {
        try (FileChannel ignored = FileChannel.open(fifo, StandardOpenOption.READ, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            // opening a FIFO for reading and writing never blocks on Linux, and counts as its writer
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Stops flipping and lets go of whoever still waits in the FIFO's {@code open()}, or in a read from it (the writer
     * leaves: the reader gets the end of the file).
     */
    @Override
    public void close() throws Exception {
        super.close();
        if (writer != null) {
            writer.close();
        }
        release();
    }
}
