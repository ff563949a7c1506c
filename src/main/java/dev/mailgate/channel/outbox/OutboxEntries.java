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
import java.util.Map;
import java.util.Optional;


import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.KnownFailure;
import dev.mailgate.request.BoundedOpen;
import dev.mailgate.request.MailRequestWriter;
import dev.mailgate.text.Text;

/**
 * What an outbox entry is, and reading one safely. Whoever may write to the outbox must not be able to make Mailgate
 * read anything but a plain file of their own: an entry is looked at itself, never through a link, before anything
 * opens it ({@link #refusal}), and it is read once, into a copy, opened without following links and within a time
 * limit ({@link #snapshot}).
 */
public final class OutboxEntries {

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
            return Optional.of(hardLinks(n));
        }
        return Optional.empty();
    }

    private static Refusal hardLinks(int names) {
        return new Refusal("has " + names + " names (hard links), so its content may be another file's",
                "copy the request into the outbox instead of linking it");
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
        MailRequestWriter.createRequestFolder(into);
        Path folder = Files.createTempDirectory(into, "outbox-");
        Path copy = folder.resolve(file.getFileName().toString());
        Map<String, Object> before = look(file);
        long size;
        try {
            size = BoundedOpen.run(file.toAbsolutePath().normalize().getParent(), "Reading outbox file "
                    + Text.printable(file.toString()), () -> copy(file, copy), readTimeout,
                    () -> BoundedOpen.releaseFifo(file), copied -> { });
        } catch (BoundedOpen.NotAPlainFile e) {
            throw new KnownFailure(new Failure(Failure.Category.INVALID_REQUEST, Text.printable(String.valueOf(
                    file.getFileName())) + " was replaced by something that is not a plain file (a FIFO) while "
                    + "Mailgate opened it; nothing was read from it", "write requests as plain files"));
        } catch (BoundedOpen.Stuck e) {
            if (e.exhausted()) {
                throw new KnownFailure(new Failure(Failure.Category.TRANSIENT, "the file was not read: "
                        + e.getMessage(), "someone who may write to the outbox swaps files for FIFOs; stop that, then "
                                + "restart Mailgate to free the threads (the file is taken again at the next poll)"));
            }
            throw new KnownFailure(new Failure(Failure.Category.INVALID_REQUEST, "the file could not be read within "
                    + readTimeout.toMillis() + " ms (mailgate.outbox.read-timeout): it was replaced by something "
                    + "that is not a plain file (a FIFO) while Mailgate read it, or its file system does not answer",
                    "write requests as plain files; for a slow network share raise mailgate.outbox.read-timeout"));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while reading " + file, e);
        } catch (FileSystemException e) {
            if (Files.isSymbolicLink(file)) {
                // replaced by a link since the check: opening without following it failed (ELOOP)
                throw new KnownFailure(refusal(file).orElseThrow().failure(file));
            }
            throw e;
        }
        if (size > maxReadBytes) {
            throw new KnownFailure(new Failure(Failure.Category.INVALID_REQUEST, "the file is larger than "
                    + maxReadBytes + " bytes, twice mailgate.limits.max-message-size; Mailgate stopped reading it",
                    "send smaller attachments, or raise mailgate.limits.max-message-size if the mail server "
                            + "accepts larger messages"));
        }
        recheck(file, before, size, copy);
        return copy;
    }

    /**
     * The entry as the file system has it, never through a link: its identity (inode), number of names, size and
     * modification and status change times. Taken just before the open and again just after the copy: Java cannot ask
     * an open {@link FileChannel} what it opened, so a difference between the two is how a file swapped in between
     * (a second name of another file, put in place after {@link #refusal} looked) shows. A swap there and back again
     * changes the status change time of the file swapped out.
     */
    private static Map<String, Object> look(Path file) throws IOException {
        try {
            return Files.readAttributes(file, "unix:ino,dev,nlink,size,lastModifiedTime,ctime,mode", NOFOLLOW);
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            // not a unix file system
            return Files.readAttributes(file, "basic:fileKey,size,lastModifiedTime,isRegularFile", NOFOLLOW);
        }
    }

    /** Refuses the copy when the entry is not the one that was looked at before the open, or has a second name now. */
    private static void recheck(Path file, Map<String, Object> before, long copied, Path copy) throws IOException {
        Map<String, Object> after = look(file);
        if (after.equals(before) && Long.valueOf(copied).equals(after.get("size"))
                && !(after.get("nlink") instanceof Integer n && n > 1)) {
            return;
        }
        Files.deleteIfExists(copy);
        Files.deleteIfExists(copy.getParent());
        String what = after.get("nlink") instanceof Integer n && n > 1 ? hardLinks(n).what()
                : "changed while Mailgate read it (it was replaced by another file, or written to)";
        throw new KnownFailure(new Failure(Failure.Category.INVALID_REQUEST, Text.printable(String.valueOf(
                file.getFileName())) + " " + what + "; Mailgate did not use what it read", "copy the request into "
                        + "the outbox (do not link it), and write it under another name first and rename it into the "
                        + "folder once it is complete"));
    }

    private long copy(Path file, Path copy) throws IOException {
        long total = 0;
        try (FileChannel in = BoundedOpen.requirePlain(FileChannel.open(file, StandardOpenOption.READ, NOFOLLOW));
                FileChannel out = FileChannel.open(copy, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
            // FileChannel reads are interruptible: a read given up on (a hanging share) ends
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
}
