package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

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

    private final Path sandboxDir;

    /** @param sandboxDir where the sandbox keeps delivered mail, or {@code null} when sending for real */
    public OutboxFiles(Path sandboxDir) {
        this.sandboxDir = sandboxDir;
    }

    /** Where {@code file} goes while its request waits on the queue (the name is chosen now, the move comes later). */
    public Path queuedPlace(Path file) throws IOException {
        Path dir = folderOf(file).resolve(QUEUED);
        Files.createDirectories(dir);
        return dir.resolve(freeName(dir, file.getFileName().toString(), ""));
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
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        String identity = file.toAbsolutePath() + "|" + attributes.fileKey() + "|" + attributes.size() + "|"
                + attributes.lastModifiedTime().toMillis();
        return UUID.nameUUIDFromBytes(identity.getBytes(StandardCharsets.UTF_8)).toString();
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
        if (!Files.exists(file) && id != null && Files.exists(original) && id.equals(deliveryIdOrNull(original))) {
            // a crash between putting the request on the queue and moving its file: it is still where it was dropped
            // (the same file: a new one dropped under the same name has another id)
            file = original;
        }
        Path target = null;
        try {
            Files.createDirectories(dir);
            target = dir.resolve(freeName(dir, file.getFileName().toString(), suffix));
            move(file, target);
        } catch (IOException | RuntimeException e) {
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

    /** {@code report.pdf}, or {@code report-2.pdf} if a report.pdf was sent before, and so on. */
    static String freeName(Path dir, String name, String suffix) {
        int dot = name.lastIndexOf('.');
        String base = dot > 0 ? name.substring(0, dot) : name;
        String ext = dot > 0 ? name.substring(dot) : "";
        String candidate = name;
        for (int n = 2; Files.exists(dir.resolve(candidate))
                || !suffix.isEmpty() && Files.exists(dir.resolve(candidate + suffix)); n++) {
            candidate = base + "-" + n + ext;
        }
        return candidate;
    }

    private static void writeAtomically(Path target, byte[] bytes) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        Files.write(tmp, bytes);
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
