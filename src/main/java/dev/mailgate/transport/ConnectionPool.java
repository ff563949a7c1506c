package dev.mailgate.transport;

import java.time.Duration;
import java.util.Deque;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import jakarta.mail.MessagingException;

import org.eclipse.angus.mail.smtp.SMTPTransport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Authenticated SMTP connections kept per sending mailbox for its next messages: a new TLS handshake and
 * {@code AUTH} per message costs a dozen times the sending (and seconds against Exchange Online). A connection is
 * handed out again only
 * <ul>
 * <li>while the token it authenticated with is still the one the token cache hands out (a refreshed or rejected
 * token means a new connection);</li>
 * <li>if it has been idle for less than {@code idleTimeout} (idle ones are closed in the background, so they do not
 * hold one of the mailbox's connections at the server);</li>
 * <li>after a {@code NOOP} when idle for more than {@code validateAfter}: a connection the server closed (its idle
 * timeout, a {@code 421}) is replaced, never used blindly.</li>
 * </ul>
 * At most {@code maxPerMailbox} idle connections are kept per mailbox; a connection that failed in any way is
 * closed by its user, never given back.
 */
final class ConnectionPool implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ConnectionPool.class);

    private record Idle(SMTPTransport transport, String token, long since) {
    }

    private final int maxPerMailbox;
    private final long idleTimeoutNanos;
    private final long validateAfterNanos;
    private final Map<String, Deque<Idle>> idle = new ConcurrentHashMap<>();
    private final ScheduledExecutorService sweeper;
    private volatile boolean closed;

    ConnectionPool(int maxPerMailbox, Duration idleTimeout, Duration validateAfter) {
        this.maxPerMailbox = maxPerMailbox;
        this.idleTimeoutNanos = idleTimeout.toNanos();
        this.validateAfterNanos = validateAfter.toNanos();
        this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mailgate-smtp-pool");
            t.setDaemon(true);
            return t;
        });
        long period = Math.max(200, idleTimeout.toMillis() / 2);
        sweeper.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
    }

    /**
     * A live idle connection of {@code mailbox} authenticated with {@code token}, or {@code null} (then the caller
     * opens one). Connections with another token, idle too long or found closed are closed on the way.
     */
    SMTPTransport take(String mailbox, String token) {
        Deque<Idle> connections = idle.get(key(mailbox));
        if (connections == null) {
            return null;
        }
        for (Idle next = connections.pollFirst(); next != null; next = connections.pollFirst()) {
            long idleFor = System.nanoTime() - next.since();
            if (!next.token().equals(token)) {
                LOG.debug("Closing an idle connection of {}: its token was replaced", mailbox);
                quietlyClose(next.transport());
            } else if (idleFor > idleTimeoutNanos) {
                quietlyClose(next.transport());
            } else if (idleFor > validateAfterNanos && !next.transport().isConnected()) {
                // isConnected() sent NOOP and found the connection closed by the server
                LOG.debug("An idle connection of {} was closed by the server; opening a new one", mailbox);
                quietlyClose(next.transport());
            } else {
                return next.transport();
            }
        }
        return null;
    }

    /** Keeps a connection that just sent a message successfully (with {@code token}) for the next one. */
    void give(String mailbox, SMTPTransport transport, String token) {
        Deque<Idle> connections = idle.computeIfAbsent(key(mailbox), m -> new ConcurrentLinkedDeque<>());
        if (closed || connections.size() >= maxPerMailbox) {
            quietlyClose(transport);
            return;
        }
        // the most recently used first: it is the least likely to have been closed by the server
        connections.addFirst(new Idle(transport, token, System.nanoTime()));
        if (closed) {
            close();
        }
    }

    /** Idle connections now, over all mailboxes. */
    int idleCount() {
        return idle.values().stream().mapToInt(Deque::size).sum();
    }

    private void sweep() {
        long now = System.nanoTime();
        for (Deque<Idle> connections : idle.values()) {
            for (Idle next : connections) {
                // closed only by whoever removes it: a sender may be taking the same connection right now
                if (now - next.since() > idleTimeoutNanos && connections.removeFirstOccurrence(next)) {
                    quietlyClose(next.transport());
                }
            }
        }
    }

    /** Closes every idle connection (with {@code QUIT}) and keeps none from now on. */
    @Override
    public void close() {
        closed = true;
        sweeper.shutdownNow();
        idle.values().forEach(connections -> {
            for (Idle next = connections.pollFirst(); next != null; next = connections.pollFirst()) {
                quietlyClose(next.transport());
            }
        });
    }

    private static String key(String mailbox) {
        return mailbox.toLowerCase(Locale.ROOT);
    }

    private static void quietlyClose(SMTPTransport transport) {
        try {
            transport.close();
        } catch (MessagingException | RuntimeException e) {
            LOG.debug("Closing an idle SMTP connection failed: {}", e.getMessage());
        }
    }
}
