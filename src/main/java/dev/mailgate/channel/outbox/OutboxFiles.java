package dev.mailgate.channel.outbox;

import java.io.IOException;
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
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.Text;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;
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

    private final Path sandboxDir;

    /** @param sandboxDir where the sandbox keeps delivered mail, or {@code null} when sending for real */
    public OutboxFiles(Path sandboxDir) {
        this.sandboxDir = sandboxDir;
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
    public void refuse(Path entry, OutboxEntries.Refusal refusal) throws IOException {
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
                        LOG.info("{} goes back into {}: {}; it is taken again", Text.printable(file.toString()),
                                folder, entry.isEmpty()
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
                        + "bytes)", Text.printable(file.toString()), folder,
                        Text.printable(target.getFileName().toString()), suffix, NAME_MAX);
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
                        + "{} was: {}", Text.printable(file.toString()), folder, Text.printable(e.toString()),
                        suffix.substring(1), json);
                return;
            }
            LOG.error("{} could not be moved to {}/ ({}); it is not picked up again until Mailgate restarts",
                    Text.printable(file.toString()), folder, Text.printable(e.toString()));
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
