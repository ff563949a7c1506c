package dev.mailgate.channel.http;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code data/http-uploads/}: where Vert.x' body handler writes each file part of a multipart request while it
 * arrives. They live only as long as their request: the handler deletes them when the answer is sent (the request's
 * own copies are then in {@code data/uploads/<id>/}). What can be left is deleted here: the part still being written
 * when a request timed out, and everything a crash or kill left behind, at start, before the listener opens.
 */
public final class PartialUploads {

    private static final Logger LOG = LoggerFactory.getLogger(PartialUploads.class);

    private PartialUploads() {
    }

    /**
     * At start, before the listener opens: nothing in the folder belongs to a request in progress. Called once the
     * broker's and the journal's locks are held, so a second gateway started on the same data folder by mistake fails
     * before it touches the first one's uploads.
     */
    public static void sweepAtStart(Path dir) {
        int deleted = sweep(dir, Instant.MAX);
        if (deleted > 0) {
            LOG.info("Deleted {} partial upload(s) left in {} by a run that ended without finishing its requests",
                    deleted, dir.toAbsolutePath());
        }
    }

    /** Deletes the files last written before {@code before}; returns how many. */
    static int sweep(Path dir, Instant before) {
        int deleted = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.toList()) {
                try {
                    if (Files.isRegularFile(file) && Files.getLastModifiedTime(file).toInstant().isBefore(before)
                            && Files.deleteIfExists(file)) {
                        deleted++;
                    }
                } catch (IOException e) {
                    // gone already, or not ours to delete
                }
            }
        } catch (NoSuchFileException e) {
            // no upload yet
        } catch (IOException e) {
            LOG.warn("Could not clear the partial uploads in {}: {}", dir.toAbsolutePath(), e.toString());
        }
        return deleted;
    }
}
