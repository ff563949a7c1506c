package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;
import dev.mailgate.outcome.Receipt;
import dev.mailgate.text.Text;

/**
 * Settles the files left in a folder's {@code .queued/} when Mailgate starts: normally each leaves when its request's
 * outcome moves it, but that move can fail (a full disk, a folder that could not be made) and the file was then left
 * there for good. The journal says what became of each (a rename keeps the inode, size and time its delivery id is
 * made of): sent and failed files go to their outcome folder with the receipt or error file the journal has; files
 * whose request is still queued, being sent or waiting for a retry stay, for their queue message to finish; files the
 * journal does not know, or that never reached the queue, go back into the folder to be taken again.
 */
final class QueuedReconciliation {

    private static final Logger LOG = LoggerFactory.getLogger(QueuedReconciliation.class);

    private final OutboxFiles files;
    private final Journal journal;

    QueuedReconciliation(OutboxFiles files, Journal journal) {
        this.files = files;
        this.journal = journal;
    }

    /** Settles {@code folder/.queued/}, logging what it did in one line. */
    void settle(Path folder) {
        Path queued = folder.resolve(OutboxFiles.QUEUED);
        int finished = 0;
        int waiting = 0;
        int back = 0;
        try {
            for (Map.Entry<Path, BasicFileAttributes> waitingFile : files.waitingInQueued(folder).entrySet()) {
                Path file = waitingFile.getKey();
                Optional<Journal.Entry> entry = journalEntry(folder, file, waitingFile.getValue());
                Journal.State state = entry.map(Journal.Entry::state).orElse(Journal.State.RECEIVED);
                switch (state) {
                    case SENT -> {
                        Journal.Entry e = entry.get();
                        files.sent(file, new Receipt(e.id(), e.messageId(), e.sender(), e.recipients() == null ? 0
                                : e.recipients(), e.serverReply(), e.updatedAt(), null, e.attempts(), false));
                        finished++;
                    }
                    case FAILED -> {
                        Journal.Entry e = entry.get();
                        files.failed(file, e.id(), e.attempts(), new Failure(category(e.failureCategory()),
                                e.failureReason(), e.failureAdvice(), e.serverReply(), List.of()));
                        finished++;
                    }
                    case QUEUED, SENDING, RETRYING -> waiting++;
                    case RECEIVED -> {
                        files.putBack(file);
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

    /** The journal entry of a file in {@code .queued/}: under its name, or its name before {@code -2} was added. */
    private Optional<Journal.Entry> journalEntry(Path folder, Path file, BasicFileAttributes attributes) {
        String name = file.getFileName().toString();
        Set<String> names = new LinkedHashSet<>(List.of(name, OutboxNames.withoutNumber(name)));
        for (String candidate : names) {
            Optional<Journal.Entry> entry = journal.find(OutboxFiles.deliveryId(folder.resolve(candidate), attributes))
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
}
