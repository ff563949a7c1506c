package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.KnownFailure;
import dev.mailgate.outcome.Receipt;
import dev.mailgate.text.Text;

/**
 * Where an outbox file is at each moment, and the records next to it. A file waits in its folder, sits in
 * {@code .queued/} once its request is on the durable queue, and ends in {@code .sent/} (with
 * {@code <name>.receipt.json}) or {@code .failed/} (with {@code <name>.error.json}). Every move is one atomic rename
 * under a name nothing else uses, and the record is written after it, so the file is always in exactly one place.
 * Moves and records go through the folders opened without following links ({@link OpenFolder}): an outcome folder
 * swapped for a link never receives a file.
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

    /**
     * Where {@code file} goes while its request waits on the queue (the name is chosen now, the move comes later).
     * Refused, before anything is queued, when {@code .queued} is a link or not a folder.
     */
    public Path queuedPlace(Path file) throws IOException {
        try (OpenFolder channel = OpenFolder.open(folderOf(file)); OpenFolder queued = channel.sub(QUEUED, true)) {
            return queued.path().resolve(freeName(queued, file.getFileName().toString(), ""));
        } catch (OpenFolder.NotAFolder e) {
            throw new KnownFailure(new Failure(Failure.Category.PERMANENT, Text.printable(e.getFile()) + " "
                    + e.getReason() + "; the request was not queued", "remove " + QUEUED + " (Mailgate makes the "
                            + "folder again) and put the file back into the outbox"));
        }
    }

    /** Moves the file into {@code .queued/} (opened without following a link), named as {@link #queuedPlace} chose. */
    public void queue(Path file, Path place) throws IOException {
        try (OpenFolder channel = OpenFolder.open(folderOf(file)); OpenFolder queued = channel.sub(QUEUED, true)) {
            channel.move(file.getFileName().toString(), queued, place.getFileName().toString());
        }
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

    /**
     * The regular files waiting in {@code folder/.queued/} (opened without following a link), with what they are;
     * empty when there is no such folder.
     */
    Map<Path, BasicFileAttributes> waitingInQueued(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            return Map.of();
        }
        try (OpenFolder channel = OpenFolder.open(folder)) {
            if (channel.look(QUEUED).isEmpty()) {
                return Map.of();
            }
            try (OpenFolder queued = channel.sub(QUEUED, false)) {
                return queued.regularFiles();
            }
        }
    }

    /** Puts a file from {@code .queued/} back into its folder, under a free name, to be taken again. */
    void putBack(Path file) throws IOException {
        try (OpenFolder channel = OpenFolder.open(folderOf(file)); OpenFolder queued = channel.sub(QUEUED, false)) {
            String name = file.getFileName().toString();
            queued.move(name, channel, freeName(channel, name, ""));
        }
    }

    /** The channel's folder: the file's own, or the one above {@code .queued/}. */
    private static Path folderOf(Path file) {
        Path parent = file.toAbsolutePath().getParent();
        return parent.getFileName().toString().equals(QUEUED) ? parent.getParent() : parent;
    }

    /**
     * Moves the file into its outcome folder under a free name, then writes the receipt or error file next to it, both
     * through the folders opened without following links ({@link OpenFolder}). Never throws: the outcome is already
     * decided (a sent mail must not be reported as a failure), so a file system problem here is logged for the
     * operator.
     */
    private static void record(Path file, String id, String folder, String suffix, ObjectNode json) {
        String name = file.getFileName().toString();
        try (OpenFolder channel = OpenFolder.open(folderOf(file))) {
            if (!file.toAbsolutePath().getParent().getFileName().toString().equals(QUEUED)) {
                moveAndRecord(file, channel, channel, folder, suffix, json);
                return;
            }
            // The outbox's own thread puts the request on the queue first and moves its file into .queued/ after,
            // so a quick outcome may find the file still where it was dropped, or look there just after the move: it
            // looks in .queued/, then where it was dropped, then in .queued/ again. The file only ever moves forward,
            // once, so a file found in neither place twice was moved by another outcome (a queue message finishing
            // it while the start settles it from the journal).
            for (int look = 0; look < 3; look++) {
                IOException unusable = null;
                try (OpenFolder queued = channel.sub(QUEUED, false)) {
                    if (queued.has(name)) {
                        if (moveAndRecord(file, queued, channel, folder, suffix, json)) {
                            return;
                        }
                        continue;
                    }
                } catch (IOException e) {
                    unusable = e;
                }
                Optional<String> dropped = stillWhereDropped(channel, name, id);
                if (dropped.isPresent()) {
                    if (moveAndRecord(channel.path().resolve(dropped.get()), channel, channel, folder, suffix, json)) {
                        return;
                    }
                } else if (unusable != null) {
                    throw unusable;
                }
            }
            LOG.debug("{} was moved meanwhile; nothing to record", file);
        } catch (IOException | RuntimeException e) {
            notMoved(file, folder, e, suffix, json);
        }
    }

    /** The file stays where it is; its record goes into the log instead, for the operator. */
    private static void notMoved(Path file, String folder, Exception e, String suffix, ObjectNode json) {
        LOG.error("{} could not be moved to {}/ ({}); it is not picked up again until Mailgate restarts; its {} "
                + "was: {}", Text.printable(file.toString()), folder, Text.printable(e.toString()), suffix.substring(1),
                json);
    }

    /**
     * The name the file still has where it was dropped, when it is there: its name in {@code .queued/}, or that name
     * without the {@code -2} a name already taken in {@code .queued/} gave it. The same file only: a new one dropped
     * under the same name has another id (which counts its path, inode, size and time).
     */
    private static Optional<String> stillWhereDropped(OpenFolder channel, String name, String id) throws IOException {
        if (id == null) {
            return Optional.empty();
        }
        for (String candidate : new LinkedHashSet<>(List.of(name, OutboxNames.withoutNumber(name)))) {
            Optional<BasicFileAttributes> there = channel.look(candidate);
            if (there.isPresent() && id.equals(deliveryId(channel.path().resolve(candidate), there.get()))) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /**
     * Moves {@code file} from {@code from} into {@code channel}'s outcome {@code folder} and writes its record; logs
     * what fails.
     */
    private static boolean moveAndRecord(Path file, OpenFolder from, OpenFolder channel, String folder, String suffix,
            ObjectNode json) {
        String name = file.getFileName().toString();
        OpenFolder outcome;
        try {
            outcome = channel.sub(folder, true);
        } catch (IOException e) {
            // nothing is written into a folder that is not a real one
            notMoved(file, folder, e, suffix, json);
            return true;
        }
        try (outcome) {
            String target = freeName(outcome, name, suffix);
            if (!OutboxNames.fits(name, suffix)) {
                LOG.info("{} is kept in {}/ as {}: with {} its name would be longer than a file name may be ({} "
                        + "bytes)", Text.printable(file.toString()), folder, Text.printable(target), suffix,
                        OutboxNames.NAME_MAX);
            }
            try {
                from.move(name, outcome, target);
            } catch (IOException | RuntimeException e) {
                if (e instanceof NoSuchFileException && !from.has(name)) {
                    // moved on meanwhile, into .queued/ or by another outcome: the caller looks again
                    return false;
                }
                LOG.error("{} could not be moved to {}/ ({}); it is not picked up again until Mailgate restarts",
                        Text.printable(file.toString()), folder, Text.printable(e.toString()));
            }
            try {
                outcome.write(target + suffix, JSON.writeValueAsBytes(json));
            } catch (IOException | RuntimeException e) {
                LOG.error("The {} of {} could not be written into {} ({}); it was: {}", suffix.substring(1), file,
                        outcome.path(), e.toString(), json);
            }
        } catch (IOException | RuntimeException e) {
            notMoved(file, folder, e, suffix, json);
        }
        return true;
    }

    /** A name in {@code dir} that neither a file nor (with {@code suffix}) a record has yet. */
    private static String freeName(OpenFolder dir, String name, String suffix) throws IOException {
        try {
            return OutboxNames.free(name, suffix, n -> {
                try {
                    return dir.has(n);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
