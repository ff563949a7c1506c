package dev.mailgate.channel.outbox;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import org.apache.camel.Consumer;
import org.apache.camel.Endpoint;
import org.apache.camel.Exchange;
import org.apache.camel.component.file.FileEndpoint;
import org.apache.camel.component.file.GenericFile;
import org.apache.camel.component.file.GenericFileFilter;
import org.apache.camel.support.DefaultPollingConsumerPollStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.outcome.Journal;
import dev.mailgate.text.Text;

/**
 * The outbox folders as they are on disk, not as Camel's file consumer sees them. Camel lists a folder with
 * {@code java.io.File}: it passes over a folder named like a request, a link that leads nowhere or to a folder, and
 * a name the JVM cannot represent, and each would wait there for ever without a word. Before each poll of a folder
 * ({@link #begin}, the routes' {@code pollStrategy}) it looks at every entry named like a request itself (never
 * through a link, opening nothing): those that are not plain files move to {@code .failed/} with an error file, and a
 * name Java cannot represent is renamed. The first poll after a start settles the folder's {@code .queued/} from the
 * journal. As the routes' {@code filter} it passes over files with a future modification time. And the {@code outbox}
 * health check asks {@link #backlog()} how long the oldest file has been waiting in each folder.
 */
public final class OutboxWatch extends DefaultPollingConsumerPollStrategy implements GenericFileFilter<File> {

    /** The bean name the outbox routes' file endpoints refer to, as their {@code pollStrategy} and {@code filter}. */
    public static final String BEAN = "mailgateOutboxWatch";

    private static final Logger LOG = LoggerFactory.getLogger(OutboxWatch.class);
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    /** A modification time this far ahead of the clock is still an ordinary file (file systems round times). */
    private static final Duration FUTURE_TOLERANCE = Duration.ofSeconds(1);

    private final OutboxFiles files;
    private final QueuedReconciliation queued;
    private final Duration settleTime;
    private final Duration stalledAfter;
    private final Clock clock;
    /** Every folder a consumer has polled, by its absolute path. */
    private final Map<Path, Folder> folders = new ConcurrentHashMap<>();
    /**
     * What was already said about an entry (a future modification time, a name that could not be changed, a check
     * that failed), by path and what: each is logged once, not at every poll.
     */
    private final Map<String, Boolean> reported = Collections.synchronizedMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > 1000;
        }
    });

    public OutboxWatch(OutboxFiles files, Journal journal, Duration settleTime, Duration stalledAfter, Clock clock) {
        this.files = files;
        this.queued = new QueuedReconciliation(files, journal);
        this.settleTime = settleTime;
        this.stalledAfter = stalledAfter;
        this.clock = clock;
    }

    /**
     * The identity of the file an exchange is about, for the routes' idempotent key: its inode and status change
     * time, which a new file under an old name never shares with the old one (empty where the file system has none).
     */
    public String identity(Exchange exchange) {
        String path = exchange.getIn().getHeader(Exchange.FILE_PATH, String.class);
        if (path == null) {
            return "";
        }
        try {
            Path file = Path.of(path);
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class, NOFOLLOW);
            Object ctime = OutboxEntries.unixAttribute(file, "ctime");
            return attributes.fileKey() + "-" + (ctime instanceof FileTime time ? time.toInstant() : "");
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    public Duration stalledAfter() {
        return stalledAfter;
    }

    /**
     * The watched folders whose consumer has neither begun a poll nor taken a file for longer than {@code
     * mailgate.outbox.stalled-after}, with when it last did: a consumer's thread that hangs (a read that never ends)
     * stops both, while a long batch of files still takes a file every moment.
     * <p>
     * One wait is the channel at work, not hanging: Camel's read lock ({@code readLock=changed}) holds the consumer on
     * a file that keeps changing for up to its {@code readLockTimeout} before it goes on to the next file, and whoever
     * may write to the folder can keep many files changing. A consumer whose thread is in that wait now is not
     * silent; the files it waits for are named by the {@code outbox-backlog} check instead.
     */
    public Map<Path, Instant> silentFolders() {
        Instant limit = clock.instant().minus(stalledAfter);
        Map<Path, Instant> silent = new TreeMap<>();
        folders.values().forEach(folder -> {
            Instant seen = folder.lastActive;
            if (seen != null && seen.isBefore(limit) && !waitsForAFileToSettle(folder.consumer)) {
                silent.put(folder.path, seen);
            }
        });
        return silent;
    }

    /** Whether {@code thread} is in Camel's wait for a file to stop changing, which ends by itself. */
    private static boolean waitsForAFileToSettle(Thread thread) {
        if (thread == null || !thread.isAlive()) {
            return false;
        }
        for (StackTraceElement frame : thread.getStackTrace()) {
            if (frame.getMethodName().equals("acquireExclusiveReadLock")
                    && frame.getClassName().startsWith("org.apache.camel.component.file.strategy.")) {
                return true;
            }
        }
        return false;
    }

    /** The consumer of the exchange's folder is at work: it takes this file (see {@link #silentFolders()}). */
    public void taking(Exchange exchange) {
        String path = exchange.getIn().getHeader(Exchange.FILE_PATH, String.class);
        if (path == null) {
            return;
        }
        Folder folder = folders.get(Path.of(path).toAbsolutePath().normalize().getParent());
        if (folder != null) {
            folder.lastActive = clock.instant();
        }
    }

    /** Every watched folder's backlog, now. */
    public List<OutboxBacklog> backlog() {
        List<OutboxBacklog> result = new ArrayList<>();
        Instant now = clock.instant();
        for (Folder folder : folders.values()) {
            result.add(OutboxBacklog.of(folder.path, folder::namedLikeARequest, now));
        }
        result.sort((a, b) -> a.folder().compareTo(b.folder()));
        return result;
    }

    /** The folder a file endpoint watches, and the request extensions it takes. */
    private Folder folder(Endpoint endpoint) {
        FileEndpoint file = (FileEndpoint) endpoint;
        Path path = file.getFile().toPath().toAbsolutePath().normalize();
        return folders.computeIfAbsent(path, p -> new Folder(p, extensions(file.getIncludeExt())));
    }

    private static Set<String> extensions(String includeExt) {
        return includeExt == null ? Set.of() : Arrays.stream(includeExt.split(","))
                .map(e -> e.strip().toLowerCase(Locale.ROOT)).filter(e -> !e.isEmpty()).collect(Collectors.toSet());
    }

    /**
     * Before each poll, on the consumer's own thread: refuses what is not a plain file, before Camel lists it. The
     * first poll after the start settles the folder's {@code .queued/} first ({@link QueuedReconciliation}), so
     * that files it puts back are taken in that very poll.
     */
    @Override
    public boolean begin(Consumer consumer, Endpoint endpoint) {
        Folder folder = folder(endpoint);
        folder.lastActive = clock.instant();
        folder.consumer = Thread.currentThread();
        if (!folder.reconciled) {
            folder.reconciled = true;
            queued.settle(folder.path);
        }
        try {
            folder.sweep();
        } catch (IOException | RuntimeException e) {
            // the poll goes on: Camel reports a folder it cannot read itself
            LOG.debug("Could not look through {}: {}", folder.path, e.toString());
        }
        return true;
    }

    /**
     * Passes over a file whose modification time is in the future (the clock of the machine that wrote it is ahead):
     * the read lock waits for the file to be {@code settle-time} old, and would hold the consumer for its whole
     * timeout at every poll. It is taken once that time has come; the log says so once, and the health check names it
     * when it has waited too long.
     */
    @Override
    public boolean accept(GenericFile<File> file) {
        if (file.isDirectory()) {
            return true;
        }
        Folder folder = folders.get(Path.of(file.getEndpointPath()).toAbsolutePath().normalize());
        if (folder != null && !folder.namedLikeARequest(Path.of(file.getFileNameOnly()))) {
            // not the route's (Camel's includeExt passes over it after this filter)
            return true;
        }
        long modified = file.getLastModified();
        if (modified <= clock.millis() + FUTURE_TOLERANCE.toMillis()) {
            return true;
        }
        if (reported.put(file.getAbsoluteFilePath() + "|" + modified, Boolean.TRUE) == null) {
            LOG.warn("{} waits: its modification time {} is in the future (the clock of the machine that wrote it is "
                    + "ahead); Mailgate takes it once it has not changed for mailgate.outbox.settle-time. Fix: correct "
                    + "that machine's clock, or touch the file", Text.printable(file.getAbsoluteFilePath()),
                    Instant.ofEpochMilli(modified));
        }
        return false;
    }

    /** One watched folder. */
    private final class Folder {

        private final Path path;
        private final Set<String> extensions;
        /** Only the consumer's thread reads and sets it. */
        private boolean reconciled;
        /** When the consumer last began a poll or took a file; the health check reads it. */
        private volatile Instant lastActive;
        /** The thread of the consumer's last poll, for the health check to see what it waits for. */
        private volatile Thread consumer;

        private Folder(Path path, Set<String> extensions) {
            this.path = path;
            this.extensions = extensions;
        }

        private void sweep() throws IOException {
            if (!Files.isDirectory(path)) {
                return;
            }
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(path, this::namedLikeARequest)) {
                for (Path entry : entries) {
                    refuseIfNotPlain(entry);
                }
            }
        }

        private void refuseIfNotPlain(Path entry) {
            try {
                if (!OutboxNames.representable(entry)) {
                    rename(entry);
                    return;
                }
                if (Files.isRegularFile(entry, NOFOLLOW)) {
                    // a plain file (even one with a second name) is the channel's, once it has settled
                    return;
                }
                Optional<OutboxEntries.Refusal> refusal = OutboxEntries.refusal(entry);
                if (refusal.isPresent()) {
                    files.refuse(entry, refusal.get());
                }
            } catch (NoSuchFileException e) {
                // taken or removed meanwhile
            } catch (IOException | RuntimeException e) {
                if (reported.put(entry + "|check", Boolean.TRUE) == null) {
                    LOG.warn("Could not check {} in the outbox: {}", Text.printable(entry.toString()), e.toString());
                }
            }
        }

        /**
         * Gives a file whose name Java cannot represent (not valid in {@code sun.jnu.encoding}: bytes that are not
         * UTF-8, or any non-ASCII name under the C locale) a name it can, once the file has settled: Camel lists it
         * under a name with {@code U+FFFD} in it that does not exist, and would pass over it for ever. The undecodable
         * characters become {@code _}; the log says so once.
         */
        private void rename(Path entry) throws IOException {
            String shown = Text.printable(entry.getFileName().toString());
            FileTime modified = Files.getLastModifiedTime(entry, NOFOLLOW);
            if (modified.toInstant().plus(settleTime).isAfter(clock.instant())) {
                return;
            }
            String name = OutboxNames.free(OutboxNames.representableName(entry.getFileName().toString()), "",
                    n -> Files.exists(path.resolve(n), NOFOLLOW));
            Path target = path.resolve(name);
            try {
                // not atomic: an atomic rename would replace a file that took this name meanwhile
                Files.move(entry, target);
            } catch (IOException e) {
                if (reported.put(entry + "|" + modified, Boolean.TRUE) == null) {
                    LOG.warn("{}/{} waits: its name is not valid in this system's file name encoding ({}), so Java "
                            + "cannot open it, and renaming it to {} failed ({}). Fix: rename the file (in UTF-8), and "
                            + "run Mailgate with a UTF-8 locale (LANG=C.UTF-8)", path, shown,
                            OutboxNames.ENCODING_NAME, name, e.toString());
                }
                return;
            }
            LOG.warn("Renamed {}/{} to {}: the name is not valid in this system's file name encoding ({}), so Java "
                    + "cannot open the file under it. Name files in UTF-8 and run Mailgate with a UTF-8 locale "
                    + "(LANG=C.UTF-8) to keep such names", path, shown, name, OutboxNames.ENCODING_NAME);
        }

        /** Camel's own rule: not hidden, and one of the route's extensions (in any case). */
        private boolean namedLikeARequest(Path entry) {
            String name = entry.getFileName().toString();
            if (name.startsWith(".")) {
                return false;
            }
            String lower = name.toLowerCase(Locale.ROOT);
            return extensions.stream().anyMatch(ext -> lower.endsWith("." + ext));
        }
    }
}
