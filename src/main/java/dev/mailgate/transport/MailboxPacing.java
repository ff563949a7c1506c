package dev.mailgate.transport;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.github.bucket4j.Bucket;

import dev.mailgate.config.Settings;
import dev.mailgate.outcome.Journal;

/**
 * Exchange Online's per-mailbox limits, kept before a message is handed to the server: messages per minute (a
 * bucket4j bucket that refills one message at a time, so no minute ever sees more than the limit), SMTP
 * connections at once, and recipients in any 24 hours (summed from the journal, so a restart forgets nothing).
 * A mailbox that may not send now does not hold anyone up: the request is told when it is due ({@link NotYet})
 * and goes back to the queue until then, with its slot reserved, while other mailboxes' mail goes on.
 */
public final class MailboxPacing {

    /** The mailbox may not send this message now; it is due at {@link #at()}. */
    public static final class NotYet extends RuntimeException {
        private final Instant at;
        private final Instant slot;
        private final boolean quota;

        NotYet(Instant at, Instant slot, boolean quota, String why) {
            super(why, null, false, false);
            this.at = at;
            this.slot = slot;
            this.quota = quota;
        }

        public Instant at() {
            return at;
        }

        /** The rate slot this message has reserved (to hand back to {@link #acquire}), or {@code null}. */
        public Instant slot() {
            return slot;
        }

        /** True when the 24-hour recipient limit is reached (a deferral worth recording), false for pacing. */
        public boolean quota() {
            return quota;
        }
    }

    /** Held while the message is sent; releases the mailbox's connection and its in-flight recipients. */
    public static final class Permit implements AutoCloseable {
        private final Mailbox box;
        private final int recipients;
        private boolean released;

        Permit(Mailbox box, int recipients) {
            this.box = box;
            this.recipients = recipients;
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

    /** {@code inFlight}: recipients of messages being sent now, not yet in the journal as sent. */
    private record Mailbox(Bucket rate, Semaphore connections, AtomicLong inFlight, Set<Instant> reserved) {
    }

    /** A wait up to this long is slept on the spot; a longer one is spent back on the queue. */
    private static final Duration SHORT_WAIT = Duration.ofMillis(250);

    private final Settings.Limits limits;
    private final Journal journal;
    private final Duration quotaDelay;
    private final Clock clock;
    private final ConcurrentMap<String, Mailbox> mailboxes = new ConcurrentHashMap<>();

    public MailboxPacing(Settings.Limits limits, Journal journal, Duration quotaDelay, Clock clock) {
        this.limits = limits;
        this.journal = journal;
        this.quotaDelay = quotaDelay;
        this.clock = clock;
    }

    /**
     * Takes the mailbox's permission to send one message to {@code recipients} recipients.
     *
     * @param slot a time reserved for this message earlier ({@code null} if none): it has paid its place already
     * @throws NotYet when the message has to wait; its rate slot is then reserved for the time given
     */
    public Permit acquire(String mailbox, int recipients, Instant slot) {
        String key = mailbox.toLowerCase(Locale.ROOT);
        Mailbox box = mailboxes.computeIfAbsent(key, k -> new Mailbox(
                Bucket.builder().addLimit(limit -> limit.capacity(1)
                        .refillGreedy(1, Duration.ofNanos(60_000_000_000L / limits.messagesPerMinute()))).build(),
                new Semaphore(limits.connectionsPerMailbox(), true), new AtomicLong(),
                ConcurrentHashMap.newKeySet()));
        Instant now = clock.instant();
        long sentToday = recipientsSince(key, now.minus(Duration.ofHours(24))) + box.inFlight().get();
        if (sentToday + recipients > limits.recipientsPerDay()) {
            throw new NotYet(now.plus(quotaDelay), null, true, mailbox + " reached " + sentToday + " of its "
                    + limits.recipientsPerDay() + " recipients in 24 hours (mailgate.limits.recipients-per-day)");
        }
        // a slot counts only if this process reserved it: after a restart the bucket is new, and a message
        // that waited in the previous run takes its place in line again rather than going out on top of the rate
        Instant due = slot != null && box.reserved().remove(slot) ? slot
                : now.plusNanos(box.rate().consumeIgnoringRateLimits(1));
        // never early: a short wait is slept here (exact), a longer one is spent back on the queue
        Duration wait = Duration.between(now, due);
        if (wait.compareTo(SHORT_WAIT) > 0) {
            throw reserve(box, due, mailbox + " is paced to " + limits.messagesPerMinute() + " messages a minute");
        }
        if (!wait.isNegative() && !wait.isZero()) {
            try {
                TimeUnit.NANOSECONDS.sleep(wait.toNanos());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw reserve(box, due, "interrupted while waiting for " + mailbox + "'s turn");
            }
        }
        try {
            if (!box.connections().tryAcquire(5, TimeUnit.SECONDS)) {
                // every connection of this mailbox is busy: come back in a moment, with the rate slot paid
                throw reserve(box, clock.instant().plusSeconds(1), mailbox + " already has "
                        + limits.connectionsPerMailbox() + " connections open");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw reserve(box, clock.instant().plusSeconds(1), "interrupted while waiting for a connection slot");
        }
        // a race between two threads here can overshoot by one message at most; Exchange's own quota reply
        // (554 5.2.0) is classified as a quota failure and deferred, so nothing is lost either way
        box.inFlight().addAndGet(recipients);
        return new Permit(box, recipients);
    }

    private static NotYet reserve(Mailbox box, Instant due, String why) {
        // the slot travels with the message in epoch milliseconds: round up, never early
        Instant slot = due.plusNanos(999_999).truncatedTo(ChronoUnit.MILLIS);
        box.reserved().add(slot);
        return new NotYet(slot, slot, false, why);
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
