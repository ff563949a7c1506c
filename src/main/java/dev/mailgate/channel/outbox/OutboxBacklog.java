package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Predicate;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.text.Text;

/**
 * What waits in one watched folder, for the {@code outbox} health check: how many files, and the oldest one (empty
 * when none waits), with what may keep it there.
 */
public record OutboxBacklog(Path folder, int waiting, Optional<Waiting> oldest) {

    private static final Logger LOG = LoggerFactory.getLogger(OutboxBacklog.class);

    /** A file that waits: since when it last changed (or was put there), and what may keep it there. */
    public record Waiting(String name, Instant since, Duration age, String hint) {
    }

    /** The backlog of {@code folder} now, counting the entries named like one of its route's requests. */
    static OutboxBacklog of(Path folder, Predicate<Path> namedLikeARequest, Instant now) {
        int waiting = 0;
        Path oldest = null;
        Instant oldestSince = null;
        if (Files.isDirectory(folder)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(folder, namedLikeARequest::test)) {
                for (Path entry : entries) {
                    Instant since = changed(entry);
                    if (since == null) {
                        continue;
                    }
                    waiting++;
                    if (oldestSince == null || since.isBefore(oldestSince)) {
                        oldest = entry;
                        oldestSince = since;
                    }
                }
            } catch (IOException | RuntimeException e) {
                LOG.debug("Could not look through {}: {}", folder, e.toString());
            }
        }
        if (oldest == null) {
            return new OutboxBacklog(folder, waiting, Optional.empty());
        }
        Duration age = Duration.between(oldestSince, now);
        return new OutboxBacklog(folder, waiting, Optional.of(new Waiting(Text.printable(oldest.getFileName()
                .toString()), oldestSince, age.isNegative() ? Duration.ZERO : age, hint(oldest, now))));
    }

    /**
     * When the entry was last changed or put into the folder: its status change time ({@code ctime}, which a rename
     * into the folder sets too), so that a file copied in with an old modification time does not look late, and one
     * with a time in the future does not look new. The modification time where there is no {@code ctime}.
     */
    private static Instant changed(Path entry) {
        if (OutboxEntries.unixAttribute(entry, "ctime") instanceof FileTime ctime) {
            return ctime.toInstant();
        }
        // not a unix file system
        try {
            return Files.readAttributes(entry, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                    .lastModifiedTime().toInstant();
        } catch (IOException e) {
            return null;
        }
    }

    /** What may keep a late file where it is, for the operator. */
    private static String hint(Path entry, Instant now) {
        try {
            Optional<OutboxEntries.Refusal> refusal = OutboxEntries.refusal(entry);
            if (refusal.isPresent()) {
                return "it " + refusal.get().what() + "; " + refusal.get().advice();
            }
            Instant modified = Files.getLastModifiedTime(entry, LinkOption.NOFOLLOW_LINKS).toInstant();
            if (modified.isAfter(now)) {
                return "its modification time is in the future (" + modified + "), and Mailgate takes a file only "
                        + "once it has not changed for mailgate.outbox.settle-time: correct the clock of the machine "
                        + "that writes it, or touch the file";
            }
        } catch (IOException | RuntimeException e) {
            // the general advice below
        }
        return "the outbox channel is not taking files from this folder: look for log lines naming the file; if "
                + "there are none, the channel is stuck: restart Mailgate (jcmd <pid> Thread.print shows where it "
                + "hangs)";
    }
}
