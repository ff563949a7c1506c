package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.Text;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;
import dev.mailgate.outcome.KnownFailure;
import dev.mailgate.outcome.Receipt;

/**
 * Where an outbox file is at each moment, and the records next to it. A file waits in its folder, sits in
 * {@code .queued/} once its request is on the durable queue, and ends in {@code .sent/} (with
 * {@code <name>.receipt.json}) or {@code .failed/} (with {@code <name>.error.json}). Every move is one atomic rename
 * under a name nothing else uses, and the record is written after it, so the file is always in exactly one place.
 */
public final class OutboxFiles {

    static final String QUEUED = ".queued";
    static final String SENT = ".sent";
    static final String FAILED = ".failed";

    private static final Logger LOG = LoggerFactory.getLogger(OutboxFiles.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
    /** {@code st_mode}'s file type bits ({@code unix:mode}): what {@link BasicFileAttributes#isOther()} lumps together. */
    private static final int TYPE_BITS = 0170000;
    private static final int FIFO = 0010000;
    private static final int CHARACTER_DEVICE = 0020000;
    private static final int BLOCK_DEVICE = 0060000;
    private static final int SOCKET = 0140000;

    private final Path sandboxDir;
    private final Duration readTimeout;
    private final long maxReadBytes;
    /**
     * Reads outbox files, so that a read that never ends (a FIFO swapped in after the check) holds one of these
     * threads, never the channel's consumer. Daemon threads: one stuck in a FIFO's open() must not keep the JVM alive.
     */
    private final ExecutorService readers = Executors.newCachedThreadPool(task -> {
        Thread thread = new Thread(task, "mailgate-outbox-read");
        thread.setDaemon(true);
        return thread;
    });

    /** @param sandboxDir where the sandbox keeps delivered mail, or {@code null} when sending for real */
    public OutboxFiles(Path sandboxDir) {
        this(sandboxDir, Duration.ofSeconds(30), Long.MAX_VALUE);
    }

    /**
     * @param readTimeout  how long reading one outbox file may take
     * @param maxReadBytes files larger than this cannot make a mail within the size limit and are not read further
     */
    public OutboxFiles(Path sandboxDir, Duration readTimeout, long maxReadBytes) {
        this.sandboxDir = sandboxDir;
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
            return Optional.of(new Refusal("has " + n + " names (hard links), so its content may be another file's",
                    "copy the request into the outbox instead of linking it"));
        }
        return Optional.empty();
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

    private static boolean isFifo(Path file) {
        Object mode = unixAttribute(file, "mode");
        return mode instanceof Integer m && (m & TYPE_BITS) == FIFO;
    }

    /** A {@code unix:} attribute of the entry itself, or {@code null} where the file system has none. */
    private static Object unixAttribute(Path file, String name) {
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
        Files.createDirectories(into);
        Path folder = Files.createTempDirectory(into, "outbox-");
        Path copy = folder.resolve(file.getFileName().toString());
        Future<Long> read = readers.submit(() -> copy(file, copy));
        try {
            long size = read.get(readTimeout.toMillis(), TimeUnit.MILLISECONDS);
            if (size > maxReadBytes) {
                throw new KnownFailure(new Failure(Failure.Category.INVALID_REQUEST, "the file is larger than "
                        + maxReadBytes + " bytes, twice mailgate.limits.max-message-size; Mailgate stopped reading it",
                        "send smaller attachments, or raise mailgate.limits.max-message-size if the mail server "
                                + "accepts larger messages"));
            }
            return copy;
        } catch (TimeoutException e) {
            read.cancel(true);
            release(file);
            throw new KnownFailure(new Failure(Failure.Category.INVALID_REQUEST, "the file could not be read within "
                    + readTimeout.toMillis() + " ms (mailgate.outbox.read-timeout): it was replaced by something "
                    + "that is not a plain file (a FIFO) while Mailgate read it, or its file system does not answer",
                    "write requests as plain files; for a slow network share raise mailgate.outbox.read-timeout"));
        } catch (InterruptedException e) {
            read.cancel(true);
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while reading " + file, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof FileSystemException && Files.isSymbolicLink(file)) {
                // replaced by a link since the check: opening without following it failed (ELOOP)
                throw new KnownFailure(refusal(file).orElseThrow().failure(file));
            }
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(e.getCause());
        }
    }

    private long copy(Path file, Path copy) throws IOException {
        long total = 0;
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ, NOFOLLOW);
                FileChannel out = FileChannel.open(copy, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
            // FileChannel reads are interruptible: cancelling the task ends a read from a FIFO that never ends
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

    /**
     * A reader stuck in {@code open()} of a FIFO (which waits for a writer, and no interrupt ends it) is let go by
     * opening the FIFO for reading and writing: on Linux that never blocks, it counts as the writer, and closing it
     * again gives the reader an empty file.
     */
    private static void release(Path file) {
        if (!isFifo(file)) {
            return;
        }
        try (FileChannel ignored = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE, NOFOLLOW)) {
            LOG.debug("Released the reader of FIFO {}", file);
        } catch (IOException | RuntimeException e) {
            LOG.debug("Could not release the reader of FIFO {}: {}", file, e.toString());
        }
    }

    /** Where {@code file} goes while its request waits on the queue (the name is chosen now, the move comes later). */
    public Path queuedPlace(Path file) throws IOException {
        Path dir = outcomeFolder(folderOf(file).resolve(QUEUED));
        return dir.resolve(freeName(dir, file.getFileName().toString(), ""));
    }

    /**
     * {@code .queued/}, {@code .sent/} or {@code .failed/}, made if missing; refused when it is anything but a real
     * folder: whoever can write to the outbox could make it a link to any folder Mailgate may write to.
     */
    private static Path outcomeFolder(Path dir) throws IOException {
        Files.createDirectories(dir);
        if (!Files.isDirectory(dir, NOFOLLOW)) {
            throw new FileSystemException(dir.toString(), null, "is a symbolic link or not a folder; Mailgate moves "
                    + "files only into a real folder: remove it and Mailgate makes the folder");
        }
        return dir;
    }

    public void queue(Path file, Path place) throws IOException {
        move(file, place);
    }

    public void sent(Path file, Receipt receipt) {
        ObjectNode json = JSON.createObjectNode()
                .put("status", "sent")
                .put("id", receipt.id())
                .put("file", file.getFileName().toString())
                .put("messageId", receipt.messageId())
                .put("mailbox", receipt.mailbox())
                .put("recipients", receipt.recipients())
                .put("server", receipt.server())
                .put("serverReply", receipt.serverReply())
                .put("sentAt", receipt.sentAt().toString())
                .put("attempts", receipt.attempts());
        if (receipt.sandbox()) {
            json.put("sandbox", true);
            json.put("notice", "SANDBOX: this message was delivered to Mailgate's embedded test server and stored in "
                    + sandboxDir + "; nothing left this machine");
        }
        record(file, receipt.id(), SENT, ".receipt.json", json);
    }

    public void failed(Path file, String id, int attempts, Failure failure) {
        ObjectNode json = JSON.createObjectNode()
                .put("status", "failed")
                .put("id", id)
                .put("file", file.getFileName().toString())
                .put("failedAt", Instant.now().toString())
                .put("category", failure.category().label())
                .put("reason", failure.reason())
                .put("fix", failure.advice())
                .put("attempts", attempts);
        if (failure.serverReply() != null) {
            json.put("serverReply", failure.serverReply());
        }
        if (!failure.problems().isEmpty()) {
            ArrayNode errors = json.putArray("errors");
            failure.problems().forEach(p -> errors.addObject().put("field", p.field()).put("message", p.message()));
        }
        if (failure.retryable()) {
            json.put("retry", "this failure is temporary: move the file back into the outbox to try again");
        }
        record(file, id, FAILED, ".error.json", json);
    }

    /**
     * An entry refused before the channel took it ({@link OutboxWatch}): it is no request, so it has no journal entry;
     * it moves to {@code .failed/} with its error file, and the log says so in one line.
     */
    public void refuse(Path entry, Refusal refusal) throws IOException {
        Failure failure = refusal.failure(entry);
        LOG.warn("Refused {}: {}. Fix: {}. It is moved to {}/", Text.printable(entry.toString()), failure.reason(),
                failure.advice(), FAILED);
        failed(entry, deliveryId(entry), 0, failure);
    }

    /** A repeat: {@code earlier} is the delivery it repeats, {@code self} when that is this very file, sent before. */
    public void duplicate(Path file, String earlier, boolean self) {
        record(file, null, SENT, ".receipt.json", JSON.createObjectNode()
                .put("status", "duplicate")
                .put("id", earlier)
                .put("file", file.getFileName().toString())
                .put("note", self ? "this file was sent before (the journal has it); nothing was sent again"
                        : "the idempotencyKey of this request arrived before, with delivery " + earlier
                                + "; nothing was sent again"));
    }

    /**
     * The same file (path, inode, size, modification time) always gets the same delivery id: after a crash the
     * file is read again, and its idempotency key must not make it look like a repeat of itself.
     */
    public static String deliveryId(Path file) throws IOException {
        // the entry itself: a link is refused, never followed
        return deliveryId(file, Files.readAttributes(file, BasicFileAttributes.class, NOFOLLOW));
    }

    /** The delivery id of the file with these attributes when it was at {@code path}. */
    private static String deliveryId(Path path, BasicFileAttributes attributes) {
        String identity = path.toAbsolutePath() + "|" + attributes.fileKey() + "|" + attributes.size() + "|"
                + attributes.lastModifiedTime().toMillis();
        return UUID.nameUUIDFromBytes(identity.getBytes(StandardCharsets.UTF_8)).toString();
    }

    /**
     * Settles the files left in {@code folder/.queued/} when Mailgate starts: normally each leaves when its request's
     * outcome moves it, but that move can fail (a full disk, a folder that could not be made) and the file was then
     * left there for good. The journal says what became of each (a rename keeps the inode, size and time its delivery
     * id is made of): sent and failed files go to their outcome folder with the receipt or error file the journal
     * has; files whose request is still queued, being sent or waiting for a retry stay, for their queue message to
     * finish; files the journal does not know, or that never reached the queue, go back into the folder to be taken
     * again.
     */
    public void reconcileQueued(Path folder, Journal journal) {
        Path queued = folder.resolve(QUEUED);
        if (!Files.isDirectory(queued, NOFOLLOW)) {
            return;
        }
        int finished = 0;
        int waiting = 0;
        int back = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(queued)) {
            for (Path file : entries) {
                if (!Files.isRegularFile(file, NOFOLLOW)) {
                    continue;
                }
                Optional<Journal.Entry> entry = journalEntry(folder, file, journal);
                Journal.State state = entry.map(Journal.Entry::state).orElse(Journal.State.RECEIVED);
                switch (state) {
                    case SENT -> {
                        Journal.Entry e = entry.get();
                        sent(file, new Receipt(e.id(), e.messageId(), e.sender(), e.recipients() == null ? 0
                                : e.recipients(), e.serverReply(), e.updatedAt(), null, e.attempts(), false));
                        finished++;
                    }
                    case FAILED -> {
                        Journal.Entry e = entry.get();
                        failed(file, e.id(), e.attempts(), new Failure(category(e.failureCategory()),
                                e.failureReason(), e.failureAdvice(), e.serverReply(), List.of()));
                        finished++;
                    }
                    case QUEUED, SENDING, RETRYING -> waiting++;
                    case RECEIVED -> {
                        Path target = folder.resolve(freeName(folder, file.getFileName().toString(), ""));
                        move(file, target);
                        LOG.info("{} goes back into {}: {}; it is taken again", file, folder, entry.isEmpty()
                                ? "the journal does not know it" : "its request never reached the queue");
                        back++;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.error("The files waiting in {} could not all be settled at start ({}); look at them there", queued,
                    e.toString());
        }
        if (finished + waiting + back > 0) {
            LOG.info("{}: {} file(s) finished from the journal, {} wait for their queued request, {} put back into the "
                    + "folder", queued, finished, waiting, back);
        }
    }

    /** The journal entry of a file in {@code .queued/}: under its name, or the name it had before {@code -2} was added. */
    private static Optional<Journal.Entry> journalEntry(Path folder, Path file, Journal journal) throws IOException {
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class, NOFOLLOW);
        String name = file.getFileName().toString();
        Set<String> names = new LinkedHashSet<>(List.of(name, name.replaceFirst("-\\d+(\\.[^.]*)?$", "$1")));
        for (String candidate : names) {
            Optional<Journal.Entry> entry = journal.find(deliveryId(folder.resolve(candidate), attributes))
                    .filter(e -> "outbox".equals(e.channel()));
            if (entry.isPresent()) {
                return entry;
            }
        }
        return Optional.empty();
    }

    private static Failure.Category category(String label) {
        for (Failure.Category c : Failure.Category.values()) {
            if (c.label().equals(label)) {
                return c;
            }
        }
        return Failure.Category.PERMANENT;
    }

    private static String deliveryIdOrNull(Path file) {
        try {
            return deliveryId(file);
        } catch (IOException e) {
            return null;
        }
    }

    /** The channel's folder: the file's own, or the one above {@code .queued/}. */
    private static Path folderOf(Path file) {
        Path parent = file.toAbsolutePath().getParent();
        return parent.getFileName().toString().equals(QUEUED) ? parent.getParent() : parent;
    }

    /**
     * Moves the file into its outcome folder under a free name, then writes the receipt or error file next to it.
     * Never throws: the outcome is already decided (a sent mail must not be reported as a failure), so a file
     * system problem here is logged for the operator.
     */
    private static void record(Path file, String id, String folder, String suffix, ObjectNode json) {
        Path dir = folderOf(file).resolve(folder);
        Path original = folderOf(file).resolve(file.getFileName());
        if (!Files.exists(file, NOFOLLOW) && id != null && Files.exists(original, NOFOLLOW)
                && id.equals(deliveryIdOrNull(original))) {
            // a crash between putting the request on the queue and moving its file: it is still where it was dropped
            // (the same file: a new one dropped under the same name has another id)
            file = original;
        }
        Path target = null;
        boolean folderUsable = false;
        try {
            outcomeFolder(dir);
            folderUsable = true;
            target = dir.resolve(freeName(dir, file.getFileName().toString(), suffix));
            if (bytes(file.getFileName().toString()) > budget(suffix)) {
                LOG.info("{} is kept in {}/ as {}: with {} its name would be longer than a file name may be ({} "
                        + "bytes)", file, folder, target.getFileName(), suffix, NAME_MAX);
            }
            move(file, target);
        } catch (IOException | RuntimeException e) {
            if (e instanceof NoSuchFileException && folderUsable && !Files.exists(file, NOFOLLOW)) {
                // the other one of two outcomes arriving together (a queue message finishing the file while the start
                // settles it from the journal) moved it first
                LOG.debug("{} was moved meanwhile; nothing to record", file);
                return;
            }
            if (!folderUsable) {
                // nothing is written into a folder that is not a real one
                LOG.error("{} could not be moved to {}/ ({}); it is not picked up again until Mailgate restarts; its "
                        + "{} was: {}", file, folder, e.toString(), suffix.substring(1), json);
                return;
            }
            LOG.error("{} could not be moved to {}/ ({}); it is not picked up again until Mailgate restarts", file,
                    folder, e.toString());
            target = target == null ? dir.resolve(file.getFileName()) : target;
        }
        try {
            writeAtomically(target.resolveSibling(target.getFileName() + suffix), JSON.writeValueAsBytes(json));
        } catch (IOException | RuntimeException e) {
            LOG.error("The {} of {} could not be written into {} ({}); it was: {}", suffix.substring(1), file, dir,
                    e.toString(), json);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /**
     * {@code report.pdf}, or {@code report-2.pdf} if a report.pdf was sent before, and so on; shortened when the name
     * with its record ({@code .<name><suffix>.tmp} while it is written) would not fit in a file name.
     */
    static String freeName(Path dir, String name, String suffix) {
        int budget = budget(suffix);
        String first = fit(name, budget);
        int dot = first.lastIndexOf('.');
        String base = dot > 0 ? first.substring(0, dot) : first;
        String ext = dot > 0 ? first.substring(dot) : "";
        String candidate = first;
        for (int n = 2; Files.exists(dir.resolve(candidate), NOFOLLOW)
                || !suffix.isEmpty() && Files.exists(dir.resolve(candidate + suffix), NOFOLLOW); n++) {
            candidate = fit(base + "-" + n + ext, budget);
        }
        return candidate;
    }

    /** The longest name a file system takes (ext4, XFS, NTFS, APFS: 255 bytes or UTF-16 units). */
    static final int NAME_MAX = 255;
    /** The characters of the name file systems count in: Java's own file name encoding. */
    private static final Charset NAMES = fileNameCharset();

    private static Charset fileNameCharset() {
        try {
            return Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
        } catch (RuntimeException e) {
            return StandardCharsets.UTF_8;
        }
    }

    /** How long an outcome name may be so that it, its record and the record's temporary name all fit. */
    private static int budget(String suffix) {
        return suffix.isEmpty() ? NAME_MAX : NAME_MAX - bytes("." + suffix + ".tmp");
    }

    static int bytes(String name) {
        return name.getBytes(NAMES).length;
    }

    /**
     * The name itself when it fits in {@code budget} bytes; otherwise its start, {@code ~} and eight hex digits of a
     * hash of the whole name (different names stay different), and its extension.
     */
    static String fit(String name, int budget) {
        if (bytes(name) <= budget) {
            return name;
        }
        int dot = name.lastIndexOf('.');
        String ext = dot > 0 && name.length() - dot <= 16 ? name.substring(dot) : "";
        String hash = "~" + UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8)).toString().substring(0, 8);
        String base = name.substring(0, name.length() - ext.length());
        int room = budget - bytes(hash + ext);
        StringBuilder kept = new StringBuilder();
        for (int i = 0; i < base.length();) {
            int c = base.codePointAt(i);
            String next = new String(Character.toChars(c));
            if (bytes(kept + next) > room) {
                break;
            }
            kept.append(next);
            i += next.length();
        }
        return kept + hash + ext;
    }

    private static void writeAtomically(Path target, byte[] bytes) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        // a new file, never an existing one: a link planted under this name must not be written through
        Files.deleteIfExists(tmp);
        Files.write(tmp, bytes, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
