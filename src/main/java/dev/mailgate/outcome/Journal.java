package dev.mailgate.outcome;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

import org.slf4j.LoggerFactory;

import dev.mailgate.request.MailRequest;

/**
 * The delivery journal: every request from every channel, with its state changes and timestamps, the sender,
 * the recipient count, the Message-ID and the server's reply. Never bodies, attachments or tokens.
 * Every transition is an upsert, so a request that failed before it could be read still gets a record.
 */
public interface Journal {

    enum State { RECEIVED, QUEUED, SENDING, SENT, RETRYING, FAILED }

    /**
     * Which request: its delivery id, its channel ({@code outbox}, {@code jms}, {@code http}), where it came from, and
     * who sent it: its principal ({@code http:<key name>}, {@code jms:<broker user>}, {@code outbox:<folder>}), whose
     * idempotency keys are its own and who may read its state.
     */
    record Ref(String id, String channel, String source, String principal) {

        /** A request whose sender is known only by its channel. */
        public Ref(String id, String channel, String source) {
            this(id, channel, source, channel);
        }
    }

    record Event(State state, Instant at, String detail) {
    }

    /** A request's record; {@code principal} is {@code null} for requests recorded before principals were. */
    record Entry(String id, String channel, String source, String principal, String sender, Integer recipients,
            State state, int attempts, String messageId, String serverReply, String failureCategory,
            String failureReason, String failureAdvice, String idempotencyKey, Instant createdAt, Instant updatedAt,
            List<Event> events) {
    }

    /**
     * Records a request that was read and validated. Returns the delivery it repeats, and records nothing, when the
     * caller must send nothing: its idempotency key arrived before from the same principal with another delivery
     * (within the window, and that delivery got past {@code RECEIVED} or is still being admitted), or it is this
     * delivery read again after it was sent (a redelivered message, a file re-read after a crash). The same key from
     * another principal is another request.
     */
    Optional<String> admit(Ref ref, MailRequest request);

    /**
     * {@link #admit} and, if admitted, {@link #queued}, in one transaction: for the channels that hand each request
     * to the durable queue right after admitting it (the outbox, HTTP), one write to the journal fewer.
     */
    Optional<String> admitForQueue(Ref ref, MailRequest request);

    /**
     * The request is being handed to the durable queue (HTTP requests, before {@code 202 Accepted}); recorded just
     * before the hand-off, because the consumer may start on it at once. {@link #notAccepted} follows if it fails.
     */
    void queued(Ref ref);

    /**
     * An admitted request could not be handed on (the queue was unavailable) and the client was told so: it is
     * recorded as failed and its idempotency key is released, so that the client's retry is not taken for a repeat.
     */
    void notAccepted(Ref ref, Failure failure);

    void sending(Ref ref, int attempt);

    void sent(Ref ref, Receipt receipt);

    /** Attempt {@code attempt} failed for a reason worth another try, which is planned for {@code next}. */
    void retrying(Ref ref, int attempt, Failure failure, Instant next);

    void failed(Ref ref, int attempts, Failure failure);

    Optional<Entry> find(String id);

    /** Recipients of mail {@code sender} had accepted since {@code since} (for the 24-hour limit). */
    long recipientsSince(String sender, Instant since);

    /** Ids of the requests sent as {@code sender} that have no outcome yet (queued, sending or retrying), oldest first. */
    List<String> waiting(String sender);

    /** Checks that the journal's database answers; throws when it does not. */
    default void check() {
    }

    /**
     * Records a step of the delivery path. The journal is a record, not the means of delivery: if its database
     * fails, the mail still goes out (or stays queued) and the failure is logged.
     */
    static void quietly(Journal journal, Ref ref, Consumer<Journal> step) {
        try {
            step.accept(journal);
        } catch (RuntimeException e) {
            LoggerFactory.getLogger(Journal.class).error("The delivery journal could not record a step of {} [{}]: {}",
                    ref.source(), ref.id(), e.getMessage());
        }
    }
}
