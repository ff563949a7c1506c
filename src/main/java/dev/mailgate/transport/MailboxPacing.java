package dev.mailgate.transport;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import io.github.bucket4j.Bucket;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.config.Settings;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;

/**
 * Exchange Online's per-mailbox limits, kept before a message is handed to the server: messages per minute,
 * SMTP connections at once, and recipients in any 24 hours (summed from the journal, so a restart forgets
 * nothing; the sum is taken again every {@value #RECOUNT_SECONDS} s and the sends in between are added up
 * here, so the journal is not scanned for every message). A mailbox that may not send now does not hold
 * anyone up: the request is told when it is due ({@link NotYet}) and goes back to the queue until then, while
 * other mailboxes' mail goes on.
 * <p>
 * The rate takes two bucket4j buckets per mailbox, both refilling one message per {@code 60 s / limit}. The
 * <em>schedule</em> hands each new request its place in line, the time it is to come back from the queue. The
 * <em>limiter</em> is taken at the moment of sending, and holds at most one message: however late the broker
 * returns some requests, they cannot go out in a burst, so no window ever sees more than the limit.
 * <p>
 * A mailbox whose authentication failed even with a fresh token, or that is full, is <em>held</em>: its requests
 * wait on the queue, and {@link dev.mailgate.policy.MailboxProbe} lets it send again once it can authenticate, or lets one request
 * through as a trial ({@link #allowTrial}).
 */
public final class MailboxPacing {

    /** The mailbox may not send this message now; it is due at {@link #at()}. */
    public static final class NotYet extends RuntimeException {

        /**
         * Why: its turn has not come, its 24-hour recipient limit is reached, the mailbox is held, or another copy
         * of the same request is being sent right now.
         */
        public enum Kind { PACED, QUOTA, HELD, BUSY }

        private final Instant at;
        private final Kind kind;
        private final Failure cause;

        public NotYet(Instant at, Kind kind, Failure cause, String why) {
            super(why, null, false, false);
            this.at = at;
            this.kind = kind;
            this.cause = cause;
        }

        public Instant at() {
            return at;
        }

        /** Its place in line, to hand back to {@link #acquire} when it returns; {@code null} unless paced. */
        public Instant slot() {
            return kind == Kind.PACED ? at : null;
        }

        public Kind kind() {
            return kind;
        }

        /** For a held mailbox: the failure that holds it. */
        public Failure cause() {
            return cause;
        }
    }

    /** Sending as a mailbox stopped after an authentication failure or a full mailbox, until a probe lifts it. */
    public record Hold(String mailbox, Failure failure, Instant since) {
    }

    /** Held while the message is sent; releases the mailbox's connection and its in-flight recipients. */
    public static final class Permit implements AutoCloseable {
        private final Mailbox box;
        private final int recipients;
        private final Runnable afterSent;
        private boolean released;

        Permit(Mailbox box, int recipients, Runnable afterSent) {
            this.box = box;
            this.recipients = recipients;
            this.afterSent = afterSent;
        }

        /**
         * The server accepted the message and the journal has it as sent: its recipients count towards the
         * 24-hour limit from now on (called after the journal's record: a recount in between counts them twice
         * for a moment, which errs on the safe side), and a trial through a hold lifts it.
         */
        public void sent() {
            box.sentSinceCount().addAndGet(recipients);
            afterSent.run();
        }

        @Override
        public synchronized void close() {
            if (!released) {
                released = true;
                box.inFlight().addAndGet(-recipients);
                box.connections().release();
            }
        }
    }

    /**
     * {@code inFlight}: recipients of messages being sent now, not yet in the journal as sent; {@code count}: the
     * journal's 24-hour sum when last taken, and {@code sentSinceCount} the recipients sent since.
     */
    private record Mailbox(Bucket schedule, Bucket limiter, Semaphore connections, AtomicLong inFlight,
            AtomicReference<Count> count, AtomicLong sentSinceCount) {
    }

    private record Count(long recipients, Instant at) {
    }

    private static final Logger LOG = LoggerFactory.getLogger(MailboxPacing.class);

    /** How often the 24-hour recipient count is taken again from the journal. */
    static final int RECOUNT_SECONDS = 10;

    /** A wait up to this long is slept on the spot; a longer one is spent back on the queue. */
    private static final Duration SHORT_WAIT = Duration.ofMillis(250);

    private final Settings.Limits limits;
    private final Journal journal;
    private final Settings.Delivery delivery;
    private final Clock clock;
    private final ConcurrentMap<String, Mailbox> mailboxes = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Hold> holds = new ConcurrentHashMap<>();
    /** Held mailboxes that may send one request as a trial ({@link #allowTrial}). */
    private final java.util.Set<String> trials = ConcurrentHashMap.newKeySet();

    public MailboxPacing(Settings.Limits limits, Settings.Delivery delivery, Journal journal, Clock clock) {
        this.limits = limits;
        this.delivery = delivery;
        this.journal = journal;
        this.clock = clock;
    }

    /**
     * Stops sending as {@code mailbox}: its requests wait on the queue until {@link #resume}. Returns whether the
     * hold is new (false: the mailbox was held already; the failure is updated).
     */
    public boolean hold(String mailbox, Failure failure) {
        String key = mailbox.toLowerCase(Locale.ROOT);
        if (!failure.category().liftedByTrial()) {
            // held now for a reason an AUTH probe tests: a trial granted for the earlier reason no longer applies
            trials.remove(key);
        }
        boolean[] isNew = {false};
        holds.compute(key, (k, previous) -> {
            isNew[0] = previous == null;
            return new Hold(k, failure, previous != null ? previous.since() : clock.instant());
        });
        return isNew[0];
    }

    /** Lets {@code mailbox} send again; returns the hold it was under, if any. */
    public Optional<Hold> resume(String mailbox) {
        String key = mailbox.toLowerCase(Locale.ROOT);
        trials.remove(key);
        return Optional.ofNullable(holds.remove(key));
    }

    /**
     * Lets one request of the held {@code mailbox} through as a trial: when the server accepts it, the hold is
     * lifted ({@link Permit#sent}); when it fails the same way, the mailbox stays held. For faults only a real
     * message can test, such as a full mailbox (Exchange refuses the submission at the end of DATA, after AUTH and
     * MAIL FROM have passed).
     */
    public void allowTrial(String mailbox) {
        String key = mailbox.toLowerCase(Locale.ROOT);
        if (holds.containsKey(key)) {
            trials.add(key);
        }
    }

    /** The mailboxes held now. */
    public List<Hold> holds() {
        return List.copyOf(holds.values());
    }

    /**
     * Takes the mailbox's permission to send one message to {@code recipients} recipients.
     *
     * @param slot when this request was told to come back ({@code null} for a new one): its place in line
     * @throws NotYet when the request has to wait; it is to come back at {@link NotYet#at()}
     */
    public Permit acquire(String mailbox, int recipients, Instant slot) {
        String key = mailbox.toLowerCase(Locale.ROOT);
        Mailbox box = mailboxes.computeIfAbsent(key, k -> new Mailbox(rate(), rate(),
                new Semaphore(limits.connectionsPerMailbox(), true), new AtomicLong(), new AtomicReference<>(),
                new AtomicLong()));
        Instant now = clock.instant();
        Hold hold = holds.get(key);
        if (hold != null && !trials.contains(key)) {
            throw held(mailbox, hold, now);
        }
        long sentToday = sentInLast24Hours(key, box, now) + box.inFlight().get();
        if (sentToday + recipients > limits.recipientsPerDay()) {
            throw new NotYet(now.plus(delivery.quotaDelay()), NotYet.Kind.QUOTA, null, mailbox + " reached "
                    + sentToday + " of its "
                    + limits.recipientsPerDay() + " recipients in 24 hours (mailgate.limits.recipients-per-day)");
        }
        if (slot == null) {
            // a new request takes its place in line: the next free time, after every request already waiting
            Instant due = now.plusNanos(box.schedule().consumeIgnoringRateLimits(1));
            if (Duration.between(now, due).compareTo(SHORT_WAIT) > 0) {
                throw later(due, mailbox + " is paced to " + limits.messagesPerMinute() + " messages a minute");
            }
        } else if (Duration.between(now, slot).compareTo(SHORT_WAIT) > 0) {
            // back early: wait for its time again
            throw later(slot, mailbox + " is paced to " + limits.messagesPerMinute() + " messages a minute");
        }
        try {
            Duration untilSlot = slot == null || slot.isBefore(now) ? Duration.ZERO : Duration.between(now, slot);
            if (!box.limiter().asBlocking().tryConsume(1, SHORT_WAIT.plus(untilSlot))) {
                // requests came back bunched (a busy broker, or slots from before a restart): to the end of the line
                Instant due = clock.instant().plusNanos(box.schedule().consumeIgnoringRateLimits(1));
                throw later(due, mailbox + " is paced to " + limits.messagesPerMinute() + " messages a minute");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw later(clock.instant().plusSeconds(1), "interrupted while waiting for " + mailbox + "'s turn");
        }
        try {
            if (!box.connections().tryAcquire(5, TimeUnit.SECONDS)) {
                // every connection of this mailbox is busy: come back in a moment
                throw later(clock.instant().plusSeconds(1), mailbox + " already has "
                        + limits.connectionsPerMailbox() + " connections open");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw later(clock.instant().plusSeconds(1), "interrupted while waiting for a connection slot");
        }
        // the trial is taken only now that everything else let the request through: a request sent back for its
        // turn or a connection does not use it up. Another thread may have taken it meanwhile
        boolean trial = hold != null && trials.remove(key);
        if (hold != null && !trial) {
            box.connections().release();
            throw held(mailbox, hold, clock.instant());
        }
        // a race between two threads here can overshoot by one message at most; Exchange's own quota reply
        // (554 5.2.0) is classified as a quota failure and deferred, so nothing is lost either way
        box.inFlight().addAndGet(recipients);
        return new Permit(box, recipients, trial ? () -> resume(mailbox).ifPresent(lifted -> LOG.info(
                "{} sent again: the hold is lifted (held since {}: {})", mailbox, lifted.since(),
                lifted.failure().reason())) : () -> { });
    }

    private NotYet held(String mailbox, Hold hold, Instant now) {
        return new NotYet(now.plus(delivery.authProbeInterval()), NotYet.Kind.HELD, hold.failure(), "sending as "
                + mailbox + " is held since " + hold.since() + ": " + hold.failure().reason());
    }

    private Bucket rate() {
        return Bucket.builder().addLimit(limit -> limit.capacity(1)
                .refillGreedy(1, Duration.ofNanos(60_000_000_000L / limits.messagesPerMinute()))).build();
    }

    private static NotYet later(Instant due, String why) {
        // the time travels with the message in epoch milliseconds: round up, never early
        Instant slot = due.plusNanos(999_999).truncatedTo(ChronoUnit.MILLIS);
        return new NotYet(slot, NotYet.Kind.PACED, null, why);
    }

    /**
     * The journal's count, taken again when older than {@value #RECOUNT_SECONDS} s (which also lets sends older
     * than 24 hours drop out, and counts what other instances sharing the journal sent), plus the sends since.
     */
    private long sentInLast24Hours(String mailbox, Mailbox box, Instant now) {
        Count count = box.count().get();
        if (count == null || !now.isBefore(count.at().plusSeconds(RECOUNT_SECONDS))) {
            synchronized (box) {
                count = box.count().get();
                if (count == null || !now.isBefore(count.at().plusSeconds(RECOUNT_SECONDS))) {
                    // reset before counting: a send recorded meanwhile is counted twice until the next recount
                    box.sentSinceCount().set(0);
                    count = new Count(recipientsSince(mailbox, now.minus(Duration.ofHours(24))), now);
                    box.count().set(count);
                }
            }
        }
        return count.recipients() + box.sentSinceCount().get();
    }

    private long recipientsSince(String mailbox, Instant since) {
        try {
            return journal.recipientsSince(mailbox, since);
        } catch (RuntimeException e) {
            // without the journal the 24-hour count is unknown; Exchange's own 554 quota reply still defers
            return 0;
        }
    }
}
