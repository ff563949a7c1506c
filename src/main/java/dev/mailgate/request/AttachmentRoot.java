package dev.mailgate.request;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The folder a channel's attachment paths are resolved in. A path is accepted only if it names a regular
 * file that is inside the folder both as written and after following symbolic links; it is checked as a
 * path (component by component), never as a string prefix, so {@code ../attachments-old/x} or a link to
 * {@code /etc} are refused.
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

    private static String printable(String s) {
        return s.replaceAll("\\p{Cntrl}", "?");
    }
}
