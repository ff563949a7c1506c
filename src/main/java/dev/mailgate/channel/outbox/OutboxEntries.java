package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.Text;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.KnownFailure;

/**
 * What an outbox entry is, and reading one safely. Whoever may write to the outbox must not be able to make Mailgate
 * read anything but a plain file of their own: an entry is looked at itself, never through a link, before anything
 * opens it ({@link #refusal}), and it is read once, into a copy, opened without following links and within a time
 * limit ({@link #snapshot}).
 */
public final class OutboxEntries {

    private static final Logger LOG = LoggerFactory.getLogger(OutboxEntries.class);
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    /** {@code st_mode}'s file type bits ({@code unix:mode}): what {@link BasicFileAttributes#isOther()} lumps together. */
    private static final int TYPE_BITS = 0170000;
    private static final int FIFO = 0010000;
    private static final int CHARACTER_DEVICE = 0020000;
    private static final int BLOCK_DEVICE = 0060000;
    private static final int SOCKET = 0140000;

    private final Duration readTimeout;
    private final long maxReadBytes;
    /**
     * Reads outbox files, so that a read that never ends (a FIFO swapped in after the check) holds one of these
     * threads, never the channel's consumer. Daemon threads: one stuck in a FIFO's open() must not keep the JVM alive.
     */
    private final ExecutorService readers = Executors.newCachedThreadPool(task -> {
        Thread thread = new Thread(task, "mailgate-outbox-read");
        thread.setDaemon(true);
        return thread;
    });

    /**
     * @param readTimeout  how long reading one outbox file may take ({@code mailgate.outbox.read-timeout})
     * @param maxReadBytes files larger than this cannot make a mail within the size limit and are not read further
     */
    public OutboxEntries(Duration readTimeout, long maxReadBytes) {
        this.readTimeout = readTimeout;
        this.maxReadBytes = maxReadBytes;
    }

    /** Why Mailgate does not read an outbox entry (it is not a plain file of its own), and what to do about it. */
    public record Refusal(String what, String advice) {

        /** The outcome of the refused entry: failed, with this reason and advice, its content never read. */
        public Failure failure(Path file) {
            return new Failure(Failure.Category.INVALID_REQUEST, Text.printable(String.valueOf(file.getFileName()))
                    + " " + what + "; Mailgate did not open it", advice);
        }
    }

    /**
     * Empty for a regular file with one name, which Mailgate may read; otherwise what the entry is. Looks at the entry
     * itself, never through a link, and opens nothing: a symbolic link would hand Mailgate's own files (the broker
     * password, the API keys) to whoever can write to the outbox, and opening a FIFO blocks until someone writes to it.
     * A second hard link is refused too: it can give another file's content a name in the outbox.
     */
    public static Optional<Refusal> refusal(Path file) throws IOException {
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class, NOFOLLOW);
        if (attributes.isSymbolicLink()) {
            String target;
            try {
                target = " to " + Text.printable(Files.readSymbolicLink(file).toString());
            } catch (IOException e) {
                target = "";
            }
            return Optional.of(new Refusal("is a symbolic link" + target + " (Mailgate reads only regular files from "
                    + "the outbox and never follows a link)", "put the request itself into the folder as a plain file "
                            + "(copy it, do not link it)"));
        }
        if (attributes.isDirectory()) {
            return Optional.of(new Refusal("is a folder named like a request, not a file",
                    "move the folder out of the outbox; requests are plain files"));
        }
        if (!attributes.isRegularFile()) {
            return Optional.of(new Refusal("is " + special(file) + ", not a regular file", "remove it from the "
                    + "outbox; write requests as plain files"));
        }
        Object links = unixAttribute(file, "nlink");
        if (links instanceof Integer n && n > 1) {
            return Optional.of(new Refusal("has " + n + " names (hard links), so its content may be another file's",
                    "copy the request into the outbox instead of linking it"));
        }
        return Optional.empty();
    }

    /** A FIFO, a socket or a device, in words. */
    private static String special(Path file) {
        Object mode = unixAttribute(file, "mode");
        int type = mode instanceof Integer m ? m & TYPE_BITS : 0;
        return switch (type) {
            case FIFO -> "a FIFO (named pipe)";
            case SOCKET -> "a socket";
            case CHARACTER_DEVICE, BLOCK_DEVICE -> "a device";
            default -> "a special file";
        };
    }

    private static boolean isFifo(Path file) {
        Object mode = unixAttribute(file, "mode");
        return mode instanceof Integer m && (m & TYPE_BITS) == FIFO;
    }

    /** A {@code unix:} attribute of the entry itself, or {@code null} where the file system has none. */
    static Object unixAttribute(Path file, String name) {
        try {
            return Files.getAttribute(file, "unix:" + name, NOFOLLOW);
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return null;
        }
    }

    /**
     * Copies an outbox file into a new folder inside {@code into} and returns the copy, under the file's own name: the
     * request is read from the copy, which nobody else can swap. The file is opened without following a link, and read
     * on a helper thread for at most {@code mailgate.outbox.read-timeout}: checking it first does not stop someone from
     * putting a FIFO or a link in its place in between, and a read from a FIFO can wait for ever.
     */
    public Path snapshot(Path file, Path into) throws IOException {
        Files.createDirectories(into);
        Path folder = Files.createTempDirectory(into, "outbox-");
        Path copy = folder.resolve(file.getFileName().toString());
        Future<Long> read = readers.submit(() -> copy(file, copy));
        try {
            long size = read.get(readTimeout.toMillis(), TimeUnit.MILLISECONDS);
            if (size > maxReadBytes) {
                throw new KnownFailure(new Failure(Failure.Category.INVALID_REQUEST, "the file is larger than "
                        + maxReadBytes + " bytes, twice mailgate.limits.max-message-size; Mailgate stopped reading it",
                        "send smaller attachments, or raise mailgate.limits.max-message-size if the mail server "
                                + "accepts larger messages"));
            }
            return copy;
        } catch (TimeoutException e) {
            read.cancel(true);
            release(file);
            throw new KnownFailure(new Failure(Failure.Category.INVALID_REQUEST, "the file could not be read within "
                    + readTimeout.toMillis() + " ms (mailgate.outbox.read-timeout): it was replaced by something "
                    + "that is not a plain file (a FIFO) while Mailgate read it, or its file system does not answer",
                    "write requests as plain files; for a slow network share raise mailgate.outbox.read-timeout"));
        } catch (InterruptedException e) {
            read.cancel(true);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while reading " + file, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof FileSystemException && Files.isSymbolicLink(file)) {
                // replaced by a link since the check: opening without following it failed (ELOOP)
                throw new KnownFailure(refusal(file).orElseThrow().failure(file));
            }
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(e.getCause());
        }
    }

    private long copy(Path file, Path copy) throws IOException {
        long total = 0;
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ, NOFOLLOW);
                FileChannel out = FileChannel.open(copy, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
            // FileChannel reads are interruptible: cancelling the task ends a read from a FIFO that never ends
            while (in.read(buffer) >= 0) {
                buffer.flip();
                total += buffer.remaining();
                if (total > maxReadBytes) {
                    return total;
                }
                while (buffer.hasRemaining()) {
                    out.write(buffer);
                }
                buffer.clear();
            }
        }
        return total;
    }

    /**
     * A reader stuck in {@code open()} of a FIFO (which waits for a writer, and no interrupt ends it) is let go by
     * opening the FIFO for reading and writing: on Linux that never blocks, it counts as the writer, and closing it
     * again gives the reader an empty file.
     */
    private static void release(Path file) {
        if (!isFifo(file)) {
            return;
        }
        try (FileChannel ignored = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE, NOFOLLOW)) {
            LOG.debug("Released the reader of FIFO {}", file);
        } catch (IOException | RuntimeException e) {
            LOG.debug("Could not release the reader of FIFO {}: {}", file, e.toString());
        }
    }
}
