package dev.mailgate.channel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The folder where the HTTP API keeps a request's files ({@code data/uploads/<id>/}) until the JMS channel has sent
 * it: the one place that knows where they are and removes them.
 */
public final class Uploads {

    private static final Logger LOG = LoggerFactory.getLogger(Uploads.class);

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
