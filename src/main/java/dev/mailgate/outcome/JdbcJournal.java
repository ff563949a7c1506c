package dev.mailgate.outcome;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLIntegrityConstraintViolationException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import javax.sql.DataSource;

import org.flywaydb.core.Flyway;

import dev.mailgate.request.MailRequest;

/**
 * The journal in any JDBC database (embedded H2 by default, PostgreSQL by configuration); the schema is
 * created and upgraded by versioned Flyway migrations in {@code db/migration}.
 */
public final class JdbcJournal implements Journal {

    private static final int TEXT = 4000;
    private static final Duration ABANDONED_AFTER = Duration.ofMinutes(1);
    private static final String QUEUED = "handed to the queue";

    private final DataSource dataSource;
    private final Duration idempotencyWindow;
    private final Clock clock;
    /** The mailbox that authenticates for a channel's sender (Send As, {@code authenticate-as}); itself by default. */
    private volatile java.util.function.BiFunction<String, String, String> mailboxes = (channel, from) -> from;

    public JdbcJournal(DataSource dataSource, Duration idempotencyWindow, Clock clock) {
        this.dataSource = dataSource;
        this.idempotencyWindow = idempotencyWindow;
        this.clock = clock;
    }

    /**
     * Which mailbox authenticates for a sender on a channel (the sender itself unless Send As says otherwise): the
     * journal keeps that mailbox with each request, so that its 24-hour recipient count and its waiting requests
     * are the authenticating mailbox's.
     */
    public JdbcJournal mailboxes(java.util.function.BiFunction<String, String, String> mailboxFor) {
        this.mailboxes = mailboxFor;
        return this;
    }

    /** Creates or upgrades the schema. */
    @Override
    public void check() {
        try (java.sql.Connection connection = dataSource.getConnection()) {
            if (!connection.isValid(2)) {
                throw new JournalException("the journal database does not answer", null);
            }
        } catch (java.sql.SQLException e) {
            throw new JournalException("the journal database cannot be reached: " + dev.mailgate.text.Text.oneLine(
                    e.getMessage()), e);
        }
    }

    public JdbcJournal migrate() {
        Flyway.configure().dataSource(dataSource).locations("classpath:db/migration").load().migrate();
        return this;
    }

    @Override
    public Optional<String> admit(Ref ref, MailRequest request) {
        return inTransaction(c -> admit(c, ref, request, clock.instant()));
    }

    @Override
    public Optional<String> admitForQueue(Ref ref, MailRequest request) {
        return inTransaction(c -> {
            Instant now = clock.instant();
            Optional<String> earlier = admit(c, ref, request, now);
            if (earlier.isEmpty()) {
                upsert(c, ref, State.QUEUED, now);
                event(c, ref.id(), State.QUEUED, now, QUEUED);
            }
            return earlier;
        });
    }

    private Optional<String> admit(Connection c, Ref ref, MailRequest request, Instant now) throws SQLException {
        Optional<State> state = state(c, ref.id());
        if (state.filter(s -> s == State.SENT).isPresent()) {
            return Optional.of(ref.id());
        }
        String key = request.idempotencyKey();
        if (key != null) {
            Optional<String> earlier = claimKey(c, principal(ref), key, ref.id(), now);
            if (earlier.isPresent()) {
                return earlier;
            }
        }
        // a request read again after a crash keeps its state: a copy already on the queue must still be
        // recognised as this request (the JMS channel trusts only ids past RECEIVED)
        if (state.filter(s -> s != State.RECEIVED).isEmpty()) {
            upsert(c, ref, State.RECEIVED, now);
            event(c, ref.id(), State.RECEIVED, now, null);
        }
        try (PreparedStatement update = c.prepareStatement(
                "UPDATE delivery SET sender = ?, recipients = ?, idempotency_key = ? WHERE id = ?")) {
            update.setString(1, cut(mailbox(mailboxes.apply(ref.channel(), mailbox(request.from()))), 400));
            update.setInt(2, request.recipientCount());
            update.setString(3, key);
            update.setString(4, ref.id());
            update.executeUpdate();
        }
        return Optional.empty();
    }

    /**
     * Takes {@code principal}'s key for {@code id} unless another delivery holds it within the window; returns that one.
     * A key recorded before keys had principals (principal {@code ''}) counts for every principal until it expires.
     */
    private Optional<String> claimKey(Connection c, String principal, String key, String id, Instant now)
            throws SQLException {
        String heldBy = null;
        String holder = null;
        Instant since = null;
        try (PreparedStatement select = c.prepareStatement("SELECT principal, delivery_id, created_at FROM "
                + "idempotency_key WHERE idempotency_key = ? AND principal IN (?, '') FOR UPDATE")) {
            select.setString(1, key);
            select.setString(2, principal);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    // the principal's own claim, if there is one, before one from before principals
                    if (heldBy == null || rs.getString(1).equals(principal)) {
                        heldBy = rs.getString(1);
                        holder = rs.getString(2);
                        since = rs.getObject(3, OffsetDateTime.class).toInstant();
                    }
                }
            }
        }
        if (holder != null) {
            if (holder.equals(id)) {
                // the same delivery read again (a redelivered message, a file re-read after a crash)
                return Optional.empty();
            }
            if (since.plus(idempotencyWindow).isAfter(now) && !abandoned(c, holder, now)) {
                return Optional.of(holder);
            }
            try (PreparedStatement renew = c.prepareStatement("UPDATE idempotency_key SET principal = ?, "
                    + "delivery_id = ?, created_at = ? WHERE principal = ? AND idempotency_key = ?")) {
                renew.setString(1, principal);
                renew.setString(2, id);
                renew.setObject(3, time(now));
                renew.setString(4, heldBy);
                renew.setString(5, key);
                renew.executeUpdate();
            }
            return Optional.empty();
        }
        try (PreparedStatement insert = c.prepareStatement("INSERT INTO idempotency_key (principal, idempotency_key, "
                + "delivery_id, created_at) VALUES (?, ?, ?, ?)")) {
            insert.setString(1, principal);
            insert.setString(2, key);
            insert.setString(3, id);
            insert.setObject(4, time(now));
            insert.executeUpdate();
        } catch (SQLException e) {
            if (e instanceof SQLIntegrityConstraintViolationException || "23505".equals(e.getSQLState())) {
                // another request with the same key got in first, between our SELECT and INSERT
                throw new KeyRace();
            }
            throw e;
        }
        return Optional.empty();
    }

    /**
     * The principal as the journal keeps it: at most 400 characters, still one of its own (a long outbox folder is
     * shortened and a digest of the whole appended).
     */
    static String principal(Ref ref) {
        String principal = ref.principal() == null ? ref.channel() : ref.principal();
        if (principal.length() <= 400) {
            return principal;
        }
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(principal.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return principal.substring(0, 300) + "…" + java.util.HexFormat.of().formatHex(digest);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A holder of a key that never got past {@code RECEIVED} for a minute was admitted but never handed on (the
     * process died in between): its key is free again, or the client's retry would be taken for a repeat of a
     * request that is not going to be sent.
     */
    private static boolean abandoned(Connection c, String holder, Instant now) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT state, updated_at FROM delivery WHERE id = ?")) {
            s.setString(1, holder);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    return true;
                }
                return State.valueOf(rs.getString(1)) == State.RECEIVED
                        && rs.getObject(2, OffsetDateTime.class).toInstant().plus(ABANDONED_AFTER).isBefore(now);
            }
        }
    }

    private static Optional<State> state(Connection c, String id) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT state FROM delivery WHERE id = ?")) {
            s.setString(1, id);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? Optional.of(State.valueOf(rs.getString(1))) : Optional.empty();
            }
        }
    }

    @Override
    public void queued(Ref ref) {
        transition(ref, State.QUEUED, null, QUEUED);
    }

    @Override
    public void notAccepted(Ref ref, Failure failure) {
        transition(ref, State.FAILED, c -> {
            failure(c, ref, 0, failure);
            try (PreparedStatement s = c.prepareStatement("DELETE FROM idempotency_key WHERE delivery_id = ?")) {
                s.setString(1, ref.id());
                s.executeUpdate();
            }
        }, "not accepted: " + describe(failure));
    }

    @Override
    public void sending(Ref ref, int attempt) {
        transition(ref, State.SENDING, c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE delivery SET attempts = ? WHERE id = ?")) {
                s.setInt(1, attempt);
                s.setString(2, ref.id());
                s.executeUpdate();
            }
        }, "attempt " + attempt);
    }

    @Override
    public void sent(Ref ref, Receipt receipt) {
        transition(ref, State.SENT, c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE delivery SET attempts = ?, message_id = ?, "
                    + "server_reply = ?, sender = COALESCE(sender, ?), recipients = COALESCE(recipients, ?), "
                    + "failure_category = NULL, failure_reason = NULL, failure_advice = NULL WHERE id = ?")) {
                s.setInt(1, receipt.attempts());
                s.setString(2, cut(receipt.messageId(), 1000));
                s.setString(3, cut(receipt.serverReply(), 2000));
                s.setString(4, cut(mailbox(receipt.mailbox()), 400));
                s.setInt(5, receipt.recipients());
                s.setString(6, ref.id());
                s.executeUpdate();
            }
        }, receipt.serverReply());
    }

    @Override
    public void retrying(Ref ref, int attempt, Failure failure, Instant next) {
        transition(ref, State.RETRYING, c -> failure(c, ref, attempt, failure), describe(failure)
                + "; next attempt at " + next);
    }

    @Override
    public void failed(Ref ref, int attempts, Failure failure) {
        transition(ref, State.FAILED, c -> failure(c, ref, attempts, failure), describe(failure));
    }

    private static String describe(Failure failure) {
        return failure.category().label() + ": " + failure.reason()
                + (failure.serverReply() == null ? "" : " (server said: " + failure.serverReply() + ")");
    }

    private static void failure(Connection c, Ref ref, int attempts, Failure failure) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE delivery SET attempts = ?, failure_category = ?, "
                + "failure_reason = ?, failure_advice = ?, server_reply = COALESCE(?, server_reply) WHERE id = ?")) {
            s.setInt(1, attempts);
            s.setString(2, failure.category().label());
            s.setString(3, cut(failure.reason(), TEXT));
            s.setString(4, cut(failure.advice(), TEXT));
            s.setString(5, cut(failure.serverReply(), 2000));
            s.setString(6, ref.id());
            s.executeUpdate();
        }
    }

    @Override
    public Optional<Entry> find(String id) {
        return inTransaction(c -> {
            List<Event> events = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT state, at, detail FROM delivery_event WHERE delivery_id = ? ORDER BY id")) {
                s.setString(1, id);
                try (ResultSet rs = s.executeQuery()) {
                    while (rs.next()) {
                        events.add(new Event(State.valueOf(rs.getString(1)),
                                rs.getObject(2, OffsetDateTime.class).toInstant(), rs.getString(3)));
                    }
                }
            }
            try (PreparedStatement s = c.prepareStatement("SELECT id, channel, source, sender, recipients, state, "
                    + "attempts, message_id, server_reply, failure_category, failure_reason, failure_advice, "
                    + "idempotency_key, created_at, updated_at, principal FROM delivery WHERE id = ?")) {
                s.setString(1, id);
                try (ResultSet rs = s.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.empty();
                    }
                    Integer recipients = rs.getObject(5) == null ? null : rs.getInt(5);
                    return Optional.of(new Entry(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(16),
                            rs.getString(4), recipients, State.valueOf(rs.getString(6)), rs.getInt(7),
                            rs.getString(8), rs.getString(9), rs.getString(10), rs.getString(11), rs.getString(12),
                            rs.getString(13), rs.getObject(14, OffsetDateTime.class).toInstant(),
                            rs.getObject(15, OffsetDateTime.class).toInstant(), List.copyOf(events)));
                }
            }
        });
    }

    @Override
    public long recipientsSince(String sender, Instant since) {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT COALESCE(SUM(recipients), 0) FROM delivery "
                    + "WHERE sender = ? AND state = 'SENT' AND updated_at > ?")) {
                s.setString(1, mailbox(sender));
                s.setObject(2, time(since));
                try (ResultSet rs = s.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        });
    }

    @Override
    public List<String> waiting(String sender) {
        return inTransaction(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT id FROM delivery WHERE sender = ? "
                    + "AND state IN ('QUEUED', 'SENDING', 'RETRYING') ORDER BY created_at, id")) {
                s.setString(1, mailbox(sender));
                List<String> ids = new ArrayList<>();
                try (ResultSet rs = s.executeQuery()) {
                    while (rs.next()) {
                        ids.add(rs.getString(1));
                    }
                }
                return ids;
            }
        });
    }

    /** Moves the request to {@code state}, creating its record if this is the first the journal hears of it. */
    private void transition(Ref ref, State state, Update extra, String detail) {
        inTransaction(c -> {
            Instant now = clock.instant();
            upsert(c, ref, state, now);
            if (extra != null) {
                extra.apply(c);
            }
            event(c, ref.id(), state, now, detail);
            return null;
        });
    }

    private static void upsert(Connection c, Ref ref, State state, Instant now) throws SQLException {
        try (PreparedStatement update = c.prepareStatement(
                "UPDATE delivery SET state = ?, updated_at = ? WHERE id = ?")) {
            update.setString(1, state.name());
            update.setObject(2, time(now));
            update.setString(3, ref.id());
            if (update.executeUpdate() > 0) {
                return;
            }
        }
        try (PreparedStatement insert = c.prepareStatement("INSERT INTO delivery (id, channel, source, principal, "
                + "state, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)")) {
            insert.setString(1, ref.id());
            insert.setString(2, ref.channel());
            insert.setString(3, cut(ref.source(), 1000));
            insert.setString(4, principal(ref));
            insert.setString(5, state.name());
            insert.setObject(6, time(now));
            insert.setObject(7, time(now));
            insert.executeUpdate();
        }
        if (state != State.RECEIVED) {
            // the first the journal hears of a request can be its failure (an unreadable file): keep the order
            event(c, ref.id(), State.RECEIVED, now, null);
        }
    }

    private static void event(Connection c, String id, State state, Instant at, String detail) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "INSERT INTO delivery_event (delivery_id, state, at, detail) VALUES (?, ?, ?, ?)")) {
            s.setString(1, id);
            s.setString(2, state.name());
            s.setObject(3, time(at));
            s.setString(4, cut(detail, TEXT));
            s.executeUpdate();
        }
    }

    private interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    private interface Update {
        void apply(Connection c) throws SQLException;
    }

    private <T> T inTransaction(Work<T> work) {
        for (int attempt = 1;; attempt++) {
            try (Connection c = dataSource.getConnection()) {
                c.setAutoCommit(false);
                try {
                    T result = work.run(c);
                    c.commit();
                    return result;
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e;
                }
            } catch (KeyRace race) {
                if (attempt == 3) {
                    throw new JournalException("idempotency key claimed concurrently; try again", null);
                }
            } catch (SQLException e) {
                throw new JournalException("the delivery journal is not available: " + e.getMessage(), e);
            }
        }
    }

    /** The bare, lower-case address: what the journal keeps as the sender, so one mailbox sums as one. */
    private static String mailbox(String address) {
        if (address == null) {
            return null;
        }
        try {
            return new jakarta.mail.internet.InternetAddress(address).getAddress().toLowerCase(java.util.Locale.ROOT);
        } catch (jakarta.mail.internet.AddressException e) {
            return address.toLowerCase(java.util.Locale.ROOT);
        }
    }

    private static OffsetDateTime time(Instant instant) {
        return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
    }

    private static String cut(String text, int max) {
        return text == null || text.length() <= max ? text : text.substring(0, max - 1) + "…";
    }

    /** Two requests raced for the same new idempotency key; the transaction is retried and then sees the winner. */
    private static final class KeyRace extends RuntimeException {
        KeyRace() {
            super(null, null, false, false);
        }
    }

    /** The journal database failed. */
    public static final class JournalException extends RuntimeException {
        JournalException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
