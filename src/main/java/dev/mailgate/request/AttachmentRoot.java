package dev.mailgate.request;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The folder a channel's attachment paths are resolved in. A path is accepted only if it names a regular
 * file that is inside the folder both as written and after following symbolic links; it is checked as a
 * path (component by component), never as a string prefix, so {@code ../attachments-old/x} or a link to
 * {@code /etc} are refused.
 * <p>
 * The check ({@link #resolve}) gives the error messages; what makes it hold is {@link #open}: a file is read only
 * through a walk from its root that follows no link, so a file swapped for a link after it was checked (the check,
 * then the copy or the send, are milliseconds to minutes apart) is refused instead of read.
 */
public final class AttachmentRoot {

    private static final Pattern WINDOWS_ABSOLUTE = Pattern.compile("^[A-Za-z]:.*|^\\\\\\\\.*");

    private final Path root;
    /** How error messages name the root: the folder itself, or e.g. "the files uploaded with this request". */
    private final String where;
    /** Folders right below the root that paths may not lead into, as written or after following links. */
    private final Predicate<String> reserved;
    /** Why, and where files go instead: the error message after the path. */
    private final String reservedWhy;

    public AttachmentRoot(Path root) {
        this(root, null);
    }

    public AttachmentRoot(Path root, String description) {
        this(root.toAbsolutePath().normalize(), description != null ? description
                : "the attachments folder " + root.toAbsolutePath().normalize(), name -> false, null);
    }

    private AttachmentRoot(Path root, String where, Predicate<String> reserved, String reservedWhy) {
        this.root = root;
        this.where = where;
        this.reserved = reserved;
        this.reservedWhy = reservedWhy;
    }

    /**
     * This root, where a path whose first folder {@code reserved} matches is refused, with {@code why} after the path
     * in the error: the folders of one user of the root that another may not name (the JMS attachments folder holds
     * the files of the requests Mailgate queued itself, in folders named by their delivery ids, next to the files of
     * the programs that send to the queue).
     */
    public AttachmentRoot reserving(Predicate<String> reserved, String why) {
        return new AttachmentRoot(root, where, reserved, why);
    }

    public Path path() {
        return root;
    }

    /**
     * The root with every link in its own path resolved: the folder {@link #open} walks down from. The root itself
     * is configuration (an operator's link such as {@code /srv/mailgate -> /data/mailgate} is fine); only what is
     * below it is the users'.
     */
    public Path realPath() {
        try {
            return root.toRealPath();
        } catch (IOException e) {
            return root;
        }
    }

    /**
     * @param field the request field, for the error message (e.g. {@code attachments[0].path})
     * @throws InvalidRequestException naming the field when the path is not a readable file inside the root
     */
    public Path resolve(String field, String relative) {
        if (relative == null || relative.isBlank()) {
            throw new InvalidRequestException(field, "is empty; name a file in " + where);
        }
        String lower = relative.toLowerCase(Locale.ROOT);
        if (lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c") || relative.indexOf('\0') >= 0) {
            throw new InvalidRequestException(field, "'" + printable(relative) + "' contains encoded or control "
                    + "characters; write the plain relative path of a file in " + where);
        }
        if (relative.startsWith("/") || relative.startsWith("\\") || WINDOWS_ABSOLUTE.matcher(relative).matches()) {
            throw new InvalidRequestException(field, "'" + relative + "' is an absolute path; attachment paths are "
                    + "relative to " + where);
        }
        Path candidate;
        try {
            Path given = Path.of(relative);
            for (Path part : given) {
                if (part.toString().equals("..")) {
                    throw new InvalidRequestException(field, "'" + relative + "' climbs out with '..'; attachment "
                            + "paths must stay inside " + where);
                }
            }
            candidate = root.resolve(given).normalize();
        } catch (InvalidPathException e) {
            throw new InvalidRequestException(field, "'" + printable(relative) + "' is not a valid path");
        }
        if (!candidate.startsWith(root) || candidate.equals(root)) {
            throw new InvalidRequestException(field, "'" + relative + "' is outside " + where);
        }
        refuseReserved(field, relative, root.relativize(candidate));
        if (!Files.exists(candidate)) {
            throw new InvalidRequestException(field, "'" + relative + "' does not exist in " + where);
        }
        try {
            Path real = candidate.toRealPath();
            Path realRoot = root.toRealPath();
            if (!real.startsWith(realRoot)) {
                throw new InvalidRequestException(field, "'" + relative + "' is a link that leads outside "
                        + where + "; copy the file in instead");
            }
            // a link of one's own into a reserved folder leads there too
            refuseReserved(field, relative, realRoot.relativize(real));
            if (!Files.isRegularFile(real)) {
                throw new InvalidRequestException(field, "'" + relative + "' is not a regular file");
            }
            if (!Files.isReadable(real)) {
                throw new InvalidRequestException(field, "'" + relative + "' cannot be read by Mailgate; check its "
                        + "permissions");
            }
            return real;
        } catch (IOException e) {
            throw new InvalidRequestException(field, "'" + relative + "' cannot be opened ("
                    + e.getClass().getSimpleName() + ")");
        }
    }

    private void refuseReserved(String field, String relative, Path inside) {
        if (inside.getNameCount() > 1 && reserved.test(inside.getName(0).toString())) {
            throw new InvalidRequestException(field, "'" + printable(relative) + "' " + reservedWhy);
        }
    }

    /**
     * Opens {@code file} (a path {@link #resolve} returned, or any file inside {@code root}) for reading by walking
     * from {@code root} one name at a time with {@code openat(..., O_NOFOLLOW)} (Java's {@link SecureDirectoryStream}
     * on Linux), so that whatever is opened is inside {@code root} whatever was swapped in since the check: a link met
     * on the way, or a file that is not a regular one, is refused.
     * <p>
     * Nothing is read that is not a regular file, and no caller waits on a FIFO. Each entry is looked at before it is
     * opened, but a FIFO can be swapped in between the look and the open, and opening a FIFO for reading waits until
     * someone writes to it (the JDK's {@code openat} for a folder has no {@code O_DIRECTORY} either, so a folder on
     * the way swapped for a FIFO does the same). So the walk runs on an opener thread for at most
     * {@link BoundedOpen#TIMEOUT}, an opener stuck in a FIFO is let go, and what was opened is checked to be a regular
     * file before it is returned ({@link BoundedOpen}).
     *
     * @param field the request field, for the error (e.g. {@code attachments[0].path})
     * @throws InvalidRequestException naming {@code field} when the file cannot be opened so
     */
    public static FileChannel open(String field, Path root, Path file) {
        return open(field, root, file, BoundedOpen.TIMEOUT);
    }

    static FileChannel open(String field, Path root, Path file, Duration timeout) {
        Path folder = root.toAbsolutePath().normalize();
        Path target = file.toAbsolutePath().normalize();
        Path relative = folder.relativize(target);
        String shown = printable(relative.toString());
        if (relative.toString().isEmpty() || relative.startsWith("..") || relative.isAbsolute()) {
            throw new InvalidRequestException(field, "'" + printable(target.getFileName() + "") + "' is not inside "
                    + "its attachments folder");
        }
        Walk walk = new Walk(field, folder, target, relative, shown);
        try {
            // stuck openers are counted per folder below the root: a producer's FIFOs in its own files cannot use up
            // the openers of the request folders Mailgate keeps next to them (data/uploads/<id>/)
            Path counted = relative.getNameCount() > 1 ? folder.resolve(relative.getName(0)) : folder;
            return BoundedOpen.run(counted, "Opening " + field + " '" + shown + "'", walk::open, timeout, walk::release,
                    BoundedOpen::closeQuietly);
        } catch (BoundedOpen.NotAPlainFile e) {
            throw replaced(field, shown, "it is a FIFO or a socket");
        } catch (BoundedOpen.Stuck e) {
            if (e.exhausted()) {
                throw new OpenersExhausted(field + " '" + shown + "' was not opened: " + e.getMessage());
            }
            throw replaced(field, shown, "it could not be opened within " + timeout.toMillis() + " ms: a FIFO, or a "
                    + "file system that does not answer");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UncheckedIOException(new InterruptedIOException("interrupted while opening " + field));
        } catch (IOException e) {
            throw changed(field, shown, "it cannot be opened (" + e.getClass().getSimpleName() + ")");
        }
    }

    private static InvalidRequestException replaced(String field, String shown, String how) {
        return new InvalidRequestException(field, "'" + shown + "' was replaced by something that is not a plain file "
                + "while Mailgate opened it (" + how + "); nothing was read from it. Attachments must be plain files: "
                + "leave an attachment unchanged until its request has been sent");
    }

    /**
     * One open of a file below a root, done on an opener thread ({@link #open()}), and what the waiting caller needs
     * to let that thread go should it be stuck in a FIFO ({@link #release()}): the step it is at.
     */
    private static final class Walk {

        /** Where the walk is: {@code name} in {@code dir}, or the path {@code name} itself when {@code dir} is null. */
        private record Step(SecureDirectoryStream<Path> dir, Path name, boolean followLinks) {
        }

        private final String field;
        private final Path root;
        private final Path file;
        private final Path relative;
        private final String shown;
        private volatile Step step;

        Walk(String field, Path root, Path file, Path relative, String shown) {
            this.field = field;
            this.root = root;
            this.file = file;
            this.relative = relative;
            this.shown = shown;
        }

        FileChannel open() throws IOException {
            DirectoryStream<Path> top;
            try {
                // the root is configuration and may be a link (an operator's /srv/mailgate -> /data/mailgate)
                step = new Step(null, root, true);
                top = Files.newDirectoryStream(root);
            } catch (IOException e) {
                throw new InvalidRequestException(field, "'" + shown + "' cannot be opened: its folder cannot be read ("
                        + e.getClass().getSimpleName() + ")");
            }
            if (!(top instanceof SecureDirectoryStream<Path> secure)) {
                BoundedOpen.closeQuietly(top);
                return openWithoutWalk();
            }
            SecureDirectoryStream<Path> dir = secure;
            try {
                for (int i = 0; i < relative.getNameCount() - 1; i++) {
                    Path name = relative.getName(i);
                    BasicFileAttributes folder = attributes(dir, name);
                    if (folder.isSymbolicLink() || !folder.isDirectory()) {
                        throw changed(field, shown, "'" + printable(name.toString()) + "' on its path is now "
                                + (folder.isSymbolicLink() ? "a link" : "not a folder"));
                    }
                    step = new Step(dir, name, false);
                    SecureDirectoryStream<Path> next = dir.newDirectoryStream(name, LinkOption.NOFOLLOW_LINKS);
                    BoundedOpen.closeQuietly(dir);
                    dir = next;
                }
                Path name = relative.getFileName();
                BasicFileAttributes attributes = attributes(dir, name);
                if (attributes.isSymbolicLink()) {
                    throw changed(field, shown, "it is now a link");
                }
                if (!attributes.isRegularFile()) {
                    throw new InvalidRequestException(field, "'" + shown + "' is not a regular file");
                }
                SeekableByteChannel channel;
                try {
                    step = new Step(dir, name, false);
                    channel = dir.newByteChannel(name, Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS));
                } catch (IOException e) {
                    // swapped between the look and the open: ELOOP for a link
                    throw changed(field, shown, "it changed while it was opened (" + e.getClass().getSimpleName()
                            + ")");
                }
                if (channel instanceof FileChannel opened) {
                    return BoundedOpen.requirePlain(opened);
                }
                BoundedOpen.closeQuietly(channel);
                return openWithoutWalk();
            } catch (NoSuchFileException e) {
                throw gone();
            } catch (BoundedOpen.NotAPlainFile e) {
                throw e;
            } catch (IOException e) {
                throw changed(field, shown, "it cannot be opened (" + e.getClass().getSimpleName() + ")");
            } finally {
                BoundedOpen.closeQuietly(dir);
            }
        }

        /**
         * Where the file system offers no {@link SecureDirectoryStream} (not Linux): the file must still be inside the
         * root after following links, and is opened without following a link in its last name. A folder on the way
         * swapped for a link in the moment between the look and the open is not caught here.
         */
        private FileChannel openWithoutWalk() throws BoundedOpen.NotAPlainFile {
            try {
                Path real = file.toRealPath();
                if (!real.startsWith(root.toRealPath())
                        || !real.equals(file.getParent().toRealPath().resolve(file.getFileName()))) {
                    throw changed(field, shown, "it is now a link, or a folder on its path is");
                }
                if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                    throw new InvalidRequestException(field, "'" + shown + "' is not a regular file");
                }
                step = new Step(null, file, false);
                return BoundedOpen.requirePlain(FileChannel.open(file, StandardOpenOption.READ,
                        LinkOption.NOFOLLOW_LINKS));
            } catch (NoSuchFileException e) {
                throw gone();
            } catch (BoundedOpen.NotAPlainFile e) {
                throw e;
            } catch (IOException e) {
                throw changed(field, shown, "it cannot be opened (" + e.getClass().getSimpleName() + ")");
            }
        }

        /** The file is no longer there when it is opened. */
        private InvalidRequestException gone() {
            return new InvalidRequestException(field, "'" + shown + "' no longer exists; leave an attachment in place "
                    + "until its request has been sent");
        }

        /** Lets go of the opener thread, should it wait in open() of a FIFO at the step it is at. */
        void release() {
            Step at = step;
            if (at == null) {
                return;
            }
            if (at.dir() == null && !at.followLinks()) {
                BoundedOpen.releaseFifo(at.name());
                return;
            }
            if (at.dir() == null) {
                BoundedOpen.releaseFifo(() -> Files.readAttributes(at.name(), BasicFileAttributes.class),
                        () -> FileChannel.open(at.name(), StandardOpenOption.READ, StandardOpenOption.WRITE));
                return;
            }
            // through the same directory handle as the opener: the same entry, whatever was renamed above it
            BoundedOpen.releaseFifo(() -> attributes(at.dir(), at.name()),
                    () -> at.dir().newByteChannel(at.name(), Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE,
                            LinkOption.NOFOLLOW_LINKS)));
        }
    }

    private static BasicFileAttributes attributes(SecureDirectoryStream<Path> dir, Path name) throws IOException {
        return dir.getFileAttributeView(name, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .readAttributes();
    }

    private static InvalidRequestException changed(String field, String shown, String what) {
        return new InvalidRequestException(field, "'" + shown + "' changed after it was checked: " + what + ". "
                + "Mailgate reads attachments without following links; leave an attachment unchanged until its "
                + "request has been sent");
    }

    private static String printable(String s) {
        return s.replaceAll("\\p{Cntrl}", "?");
    }
}
