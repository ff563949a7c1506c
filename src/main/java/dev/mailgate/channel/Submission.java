package dev.mailgate.channel;

import java.io.IOException;
import java.util.Optional;

import org.apache.camel.ProducerTemplate;

import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.JdbcJournal;
import dev.mailgate.outcome.Journal;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestWriter;

/**
 * The hand-off every channel that answers its caller makes (the HTTP API, {@code direct:mailgate-submit}): record the
 * validated request in the journal (its idempotency key checked there), then put it on the durable queue, signed as
 * Mailgate's own; the JMS route sends it from there. Accepted means on the queue: nothing is acknowledged before.
 */
public final class Submission {

    /** On the queue under {@code id}; {@code repeat}: an earlier request with the same idempotency key, not queued again. */
    public record Accepted(String id, boolean repeat) {
    }

    /**
     * Nothing was accepted: the journal or the queue is not available, and the caller may send the request again.
     * {@code keepFiles}: the request's files must stay (the broker may have stored the message after all).
     */
    public static final class Unavailable extends RuntimeException {
        private final boolean keepFiles;

        Unavailable(String message, boolean keepFiles, Throwable cause) {
            super(message, cause);
            this.keepFiles = keepFiles;
        }

        public boolean keepFiles() {
            return keepFiles;
        }
    }

    private final Journal journal;
    private final Uploads uploads;
    private final ProducerTemplate producer;
    private final String queueUri;
    private final QueuedRequest signer;

    public Submission(Journal journal, Uploads uploads, ProducerTemplate producer, String queue,
            QueuedRequest signer) {
        this.journal = journal;
        this.uploads = uploads;
        this.producer = producer;
        this.queueUri = "jms:queue:" + queue;
        this.signer = signer;
    }

    /** Where requests go: {@code jms:queue:<mailgate.jms.queue>}. */
    public String queueUri() {
        return queueUri;
    }

    /**
     * Admits {@code request} under {@code ref} and queues it, its files (inline content, uploaded parts) written into
     * the request's own folder of the queue's attachment folder.
     *
     * @throws Unavailable nothing was accepted; the caller may try again
     * @throws IOException the request's files could not be written; it was not accepted
     */
    public Accepted submit(Journal.Ref ref, MailRequest request) throws IOException {
        Optional<String> earlier;
        try {
            // recorded as queued before the hand-off: once on the queue, the consumer may record 'sending' at once
            earlier = journal.admitForQueue(ref, request);
        } catch (JdbcJournal.JournalException e) {
            throw new Unavailable("the delivery journal is not available", false, e);
        }
        if (earlier.isPresent()) {
            return new Accepted(earlier.get(), true);
        }
        String queued;
        try {
            queued = MailRequestWriter.toJson(request, uploads.root(), uploads.folder(ref.id()));
        } catch (IOException | RuntimeException e) {
            release(ref, "Mailgate could not write its files");
            throw e;
        }
        try {
            producer.sendBodyAndHeaders(queueUri, queued, signer.properties(QueuedRequest.Stamp.of(ref.id()), queued));
        } catch (RuntimeException e) {
            release(ref, "the queue is not available");
            throw new Unavailable("the queue is not available", true, e);
        }
        return new Accepted(ref.id(), false);
    }

    /** Marks an admitted request as not accepted, freeing its idempotency key for the client's retry. */
    public void release(Journal.Ref ref, String why) {
        Journal.quietly(journal, ref, j -> j.notAccepted(ref, new Failure(Failure.Category.TRANSIENT, why,
                "the client was told to send the request again")));
    }
}
