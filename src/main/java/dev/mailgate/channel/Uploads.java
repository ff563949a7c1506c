package dev.mailgate.channel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The folder where the HTTP API and the outbox keep a request's files ({@code data/uploads/<id>/}, named by its
 * delivery id) until the JMS channel has sent it: the one place that knows where they are and removes them. The same
 * folder is where the programs that send to the queue put their own files ({@code mailgate.jms.attachments-dir}); the
 * folders named like a delivery id are Mailgate's ({@link #isRequestFolder}).
 */
public final class Uploads {

    private static final Logger LOG = LoggerFactory.getLogger(Uploads.class);
    /**
     * A delivery id: a UUID, in any case (on a file system that ignores case, {@code A1B2...} names Mailgate's
     * {@code a1b2...}).
     */
    private static final Pattern DELIVERY_ID = Pattern.compile(
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", Pattern.CASE_INSENSITIVE);

    private final Path root;

    public Uploads(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    public Path folder(String id) {
        return root.resolve(id);
    }

    /**
     * Whether a folder right below the root is named like one Mailgate keeps for a request it queued itself: its
     * delivery id. Ids are made by Mailgate (random for HTTP, from the file's path, inode, size and time for the
     * outbox) and can be learnt or computed by others, so the name is what tells these folders apart.
     */
    public static boolean isRequestFolder(String name) {
        return DELIVERY_ID.matcher(name).matches();
    }

    /** Removes the files of delivery {@code id}, if there are any. */
    public void delete(String id) {
        Path dir = folder(id);
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            LOG.warn("Could not delete the uploaded files of delivery {} in {}: {}", id, dir, e.toString());
        }
    }
}
