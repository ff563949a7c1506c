package dev.mailgate.request;

import java.io.IOException;
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
import java.util.Locale;
import java.util.Set;
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

    public AttachmentRoot(Path root) {
        this(root, null);
    }

    public AttachmentRoot(Path root, String description) {
        this.root = root.toAbsolutePath().normalize();
        this.where = description != null ? description : "the attachments folder " + this.root;
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

    /**
     * Opens {@code file} (a path {@link #resolve} returned, or any file inside {@code root}) for reading by walking
     * from {@code root} one name at a time with {@code openat(..., O_NOFOLLOW)} (Java's {@link SecureDirectoryStream}
     * on Linux), so that whatever is opened is inside {@code root} whatever was swapped in since the check: a link met
     * on the way, or a file that is not a regular one, is refused. Nothing is opened that is not a regular file: a FIFO
     * would block the reading thread in {@code open} until someone writes to it.
     *
     * @param field the request field, for the error (e.g. {@code attachments[0].path})
     * @throws InvalidRequestException naming {@code field} when the file cannot be opened so
     */
    public static FileChannel open(String field, Path root, Path file) {
        root = root.toAbsolutePath().normalize();
        file = file.toAbsolutePath().normalize();
        Path relative = root.relativize(file);
        String shown = printable(relative.toString());
        if (relative.toString().isEmpty() || relative.startsWith("..") || relative.isAbsolute()) {
            throw new InvalidRequestException(field, "'" + printable(file.getFileName() + "") + "' is not inside "
                    + "its attachments folder");
        }
        DirectoryStream<Path> top;
        try {
            top = Files.newDirectoryStream(root);
        } catch (IOException e) {
            throw new InvalidRequestException(field, "'" + shown + "' cannot be opened: its folder cannot be read ("
                    + e.getClass().getSimpleName() + ")");
        }
        if (!(top instanceof SecureDirectoryStream<Path> secure)) {
            close(top);
            return openWithoutWalk(field, root, file, shown);
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
                SecureDirectoryStream<Path> next = dir.newDirectoryStream(name, LinkOption.NOFOLLOW_LINKS);
                close(dir);
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
                channel = dir.newByteChannel(name, Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS));
            } catch (IOException e) {
                // swapped between the look and the open: ELOOP for a link
                throw changed(field, shown, "it changed while it was opened (" + e.getClass().getSimpleName() + ")");
            }
            if (channel instanceof FileChannel opened) {
                return opened;
            }
            close(channel);
            return openWithoutWalk(field, root, file, shown);
        } catch (NoSuchFileException e) {
            throw new InvalidRequestException(field, "'" + shown + "' no longer exists; leave an attachment in place "
                    + "until its request has been sent");
        } catch (IOException e) {
            throw changed(field, shown, "it cannot be opened (" + e.getClass().getSimpleName() + ")");
        } finally {
            close(dir);
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

    /**
     * Where the file system offers no {@link SecureDirectoryStream} (not Linux): the file must still be inside the
     * root after following links, and is opened without following a link in its last name. A folder on the way
     * swapped for a link in the moment between the look and the open is not caught here.
     */
    private static FileChannel openWithoutWalk(String field, Path root, Path file, String shown) {
        try {
            Path real = file.toRealPath();
            if (!real.startsWith(root.toRealPath())
                    || !real.equals(file.getParent().toRealPath().resolve(file.getFileName()))) {
                throw changed(field, shown, "it is now a link, or a folder on its path is");
            }
            if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                throw new InvalidRequestException(field, "'" + shown + "' is not a regular file");
            }
            return FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            throw new InvalidRequestException(field, "'" + shown + "' no longer exists; leave an attachment in place "
                    + "until its request has been sent");
        } catch (IOException e) {
            throw changed(field, shown, "it cannot be opened (" + e.getClass().getSimpleName() + ")");
        }
    }

    private static void close(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            // a directory handle or a channel that was only read: nothing was lost
        }
    }

    private static String printable(String s) {
        return s.replaceAll("\\p{Cntrl}", "?");
    }
}
