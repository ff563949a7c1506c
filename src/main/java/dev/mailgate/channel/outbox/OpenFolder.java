package dev.mailgate.channel.outbox;

import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import dev.mailgate.request.BoundedOpen;
import dev.mailgate.text.Text;

/**
 * An outbox folder held open, and its outcome folders ({@code .queued/}, {@code .sent/}, {@code .failed/}) opened
 * from it without following a link. Whoever may write to the outbox can swap an outcome folder for a link to another
 * watched folder at any moment, also right after Mailgate looked at it: a move by path would then put the file into
 * that folder, whose route takes it (with that folder's principal). Here every move is a rename between two open
 * folders ({@link SecureDirectoryStream#move}: {@code renameat} on Linux) and every record is created in its open
 * folder ({@code openat} with {@code O_CREAT|O_EXCL|O_NOFOLLOW}): a link put in a folder's place after it was opened
 * is never followed (the file goes into the folder that was opened, wherever that is now), and one put there before is
 * refused (opening it without following links fails).
 * <p>
 * Opening a folder is {@code open(O_RDONLY)}, which waits for ever on a FIFO put in its place after the look: it runs
 * on {@link BoundedOpen}'s opener threads, for at most {@value #OPEN_SECONDS} s. Where the JDK offers no
 * {@link SecureDirectoryStream} (on Linux it always does), folders are used by path after a look that does not follow
 * links, as before.
 */
final class OpenFolder implements Closeable {

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    private static final int OPEN_SECONDS = 10;

    private final Path path;
    /** The open folder, or {@code null} where the file system offers no {@link SecureDirectoryStream}. */
    private final SecureDirectoryStream<Path> dir;

    private OpenFolder(Path path, SecureDirectoryStream<Path> dir) {
        this.path = path;
        this.dir = dir;
    }

    /**
     * A watched folder, opened by its path: it is configuration, and Camel's file consumer follows links in it too.
     */
    static OpenFolder open(Path folder) throws IOException {
        Path path = folder.toAbsolutePath();
        if (!Files.isDirectory(path)) {
            throw new FileSystemException(path.toString(), null, "is not a folder");
        }
        DirectoryStream<Path> opened = opened(path, () -> Files.newDirectoryStream(path), () -> BoundedOpen.releaseFifo(path));
        if (opened instanceof SecureDirectoryStream<Path> secure) {
            return new OpenFolder(path, secure);
        }
        opened.close();
        return new OpenFolder(path, null);
    }

    /**
     * The folder {@code name} in this one ({@code .queued}, {@code .sent}, {@code .failed}), made first if {@code make}
     * and missing; refused ({@link NotAFolder}) when it is a link or anything but a real folder.
     */
    OpenFolder sub(String name, boolean make) throws IOException {
        Path child = path.resolve(name);
        Optional<BasicFileAttributes> seen = look(name);
        for (int tries = 0; make && seen.isEmpty() && tries < 3; tries++) {
            try {
                // mkdir never follows a link in the name's place
                Files.createDirectory(child);
            } catch (FileAlreadyExistsException e) {
                // made meanwhile (or something else was put there: looked at below)
            }
            seen = look(name);
        }
        if (seen.isEmpty()) {
            if (make) {
                throw new NotAFolder(child, "was taken away each time Mailgate made it");
            }
            throw new NoSuchFileException(child.toString());
        }
        if (!seen.get().isDirectory()) {
            // a link, a file, a FIFO: never opened
            throw new NotAFolder(child);
        }
        if (dir == null) {
            return new OpenFolder(child, null);
        }
        try {
            return new OpenFolder(child, opened(child, () -> dir.newDirectoryStream(Path.of(name), NOFOLLOW),
                    () -> releaseFifo(name)));
        } catch (NoSuchFileException e) {
            if (make) {
                throw new NotAFolder(child, "was taken away while Mailgate opened it");
            }
            throw new NoSuchFileException(child.toString());
        } catch (NotOpened e) {
            throw e;
        } catch (FileSystemException e) {
            // replaced by a link (ELOOP) or a file (ENOTDIR) since the look
            throw new NotAFolder(child);
        }
    }

    private static <T extends DirectoryStream<Path>> T opened(Path what, BoundedOpen.IoTask<T> open,
            Runnable release) throws IOException {
        try {
            return BoundedOpen.run(what.toAbsolutePath().normalize().getParent(), "Opening outbox folder "
                    + Text.printable(what.toString()), open, Duration.ofSeconds(OPEN_SECONDS), release,
                    BoundedOpen::closeQuietly);
        } catch (BoundedOpen.Stuck e) {
            throw new NotOpened(what, e.exhausted() ? e.getMessage() : "did not open within " + OPEN_SECONDS
                    + " s (it was replaced by a FIFO after Mailgate looked at it, or its file system does not answer)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while opening " + what);
        }
    }

    Path path() {
        return path;
    }

    /** The entry {@code name} itself, never through a link; empty when there is none. */
    Optional<BasicFileAttributes> look(String name) throws IOException {
        try {
            return Optional.of(dir == null
                    ? Files.readAttributes(path.resolve(name), BasicFileAttributes.class, NOFOLLOW)
                    : dir.getFileAttributeView(Path.of(name), BasicFileAttributeView.class, NOFOLLOW)
                            .readAttributes());
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    boolean has(String name) throws IOException {
        return look(name).isPresent();
    }

    /** The regular files in this folder (links, folders and special files left out), with what they are. */
    Map<Path, BasicFileAttributes> regularFiles() throws IOException {
        Map<Path, BasicFileAttributes> files = new LinkedHashMap<>();
        List<String> names = new ArrayList<>();
        if (dir == null) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(path)) {
                entries.forEach(entry -> names.add(entry.getFileName().toString()));
            }
        } else {
            dir.forEach(entry -> names.add(entry.getFileName().toString()));
        }
        for (String name : names) {
            Optional<BasicFileAttributes> seen = look(name);
            if (seen.isPresent() && seen.get().isRegularFile()) {
                files.put(path.resolve(name), seen.get());
            }
        }
        return files;
    }

    /**
     * Renames {@code name} in this folder to {@code target} in {@code to}, both open. Like every rename, it replaces
     * an entry already under {@code target}: callers choose a free name.
     */
    void move(String name, OpenFolder to, String target) throws IOException {
        if (dir != null && to.dir != null) {
            try {
                dir.move(Path.of(name), to.dir, Path.of(target));
                return;
            } catch (AtomicMoveNotSupportedException e) {
                // an outcome folder on another file system (a mount point): only a copy by path can move it there
            }
        }
        Path from = path.resolve(name);
        Path into = to.path.resolve(target);
        try {
            Files.move(from, into, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, into);
        }
    }

    /**
     * Writes {@code name} in this folder whole or not at all: into a new temporary file (never an existing one: a
     * link planted under its name must not be written through), then renamed over {@code name}.
     */
    void write(String name, byte[] bytes) throws IOException {
        String tmp = "." + name + ".tmp";
        Set<OpenOption> create = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, NOFOLLOW);
        if (dir == null) {
            Files.deleteIfExists(path.resolve(tmp));
            try (SeekableByteChannel out = Files.newByteChannel(path.resolve(tmp), create)) {
                writeAll(out, bytes);
            }
            move(tmp, this, name);
            return;
        }
        try {
            dir.deleteFile(Path.of(tmp));
        } catch (NoSuchFileException e) {
            // none left from before
        }
        try (SeekableByteChannel out = dir.newByteChannel(Path.of(tmp), create)) {
            writeAll(out, bytes);
        }
        dir.move(Path.of(tmp), dir, Path.of(name));
    }

    private static void writeAll(SeekableByteChannel out, byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            out.write(buffer);
        }
    }

    /**
     * Lets go of an opener stuck on a FIFO put in the place of the folder {@code name}: opening it for reading and
     * writing never blocks on Linux and counts as its writer; only what is (still) a FIFO there is opened
     * ({@link BoundedOpen#releaseFifo}).
     */
    private void releaseFifo(String name) {
        BoundedOpen.releaseFifo(() -> dir.getFileAttributeView(Path.of(name), BasicFileAttributeView.class, NOFOLLOW)
                .readAttributes(), () -> dir.newByteChannel(Path.of(name), Set.of(StandardOpenOption.READ,
                        StandardOpenOption.WRITE, NOFOLLOW)));
    }

    @Override
    public void close() throws IOException {
        if (dir != null) {
            dir.close();
        }
    }

    /** A folder whose opening did not end in time (or found no thread to run on). */
    private static final class NotOpened extends FileSystemException {

        private static final long serialVersionUID = 1L;

        NotOpened(Path folder, String reason) {
            super(folder.toString(), null, reason);
        }
    }

    /** An outcome folder that is a link or not a folder: Mailgate moves and writes nothing into it. */
    static final class NotAFolder extends FileSystemException {

        private static final long serialVersionUID = 1L;

        NotAFolder(Path folder) {
            this(folder, "is a symbolic link or not a folder; Mailgate moves files only into a real folder: remove it "
                    + "and Mailgate makes the folder");
        }

        NotAFolder(Path folder, String reason) {
            super(folder.toString(), null, reason);
        }

        /** What an operator reads in the log line: the folder and why, not this class's name. */
        @Override
        public String toString() {
            return getMessage();
        }
    }
}
