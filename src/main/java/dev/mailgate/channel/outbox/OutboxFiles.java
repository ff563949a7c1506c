package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.Text;
import dev.mailgate.outcome.Failure;
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
    static String deliveryId(Path path, BasicFileAttributes attributes) {
        String identity = path.toAbsolutePath() + "|" + attributes.fileKey() + "|" + attributes.size() + "|"
                + attributes.lastModifiedTime().toMillis();
        return UUID.nameUUIDFromBytes(identity.getBytes(StandardCharsets.UTF_8)).toString();
    }

    /** Puts a file from {@code .queued/} back into {@code folder}, under a free name, to be taken again. */
    void putBack(Path file, Path folder) throws IOException {
        move(file, folder.resolve(freeName(folder, file.getFileName().toString(), "")));
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
            if (!OutboxNames.fits(file.getFileName().toString(), suffix)) {
                LOG.info("{} is kept in {}/ as {}: with {} its name would be longer than a file name may be ({} "
                        + "bytes)", Text.printable(file.toString()), folder,
                        Text.printable(target.getFileName().toString()), suffix, OutboxNames.NAME_MAX);
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

    /** A name in {@code dir} that neither a file nor (with {@code suffix}) a record has yet. */
    private static String freeName(Path dir, String name, String suffix) {
        return OutboxNames.free(name, suffix, n -> Files.exists(dir.resolve(n), NOFOLLOW));
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
