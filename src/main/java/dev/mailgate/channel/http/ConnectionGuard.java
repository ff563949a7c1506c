package dev.mailgate.channel.http;

import java.time.Duration;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the HTTP listener's connections bounded, so that nobody can starve it of file descriptors without a key:
 * <ul>
 * <li>a connection must deliver a complete request head within {@code header-timeout} of opening, and a kept-alive
 * connection its next one within {@code idle-timeout} of the previous answer; otherwise it is closed (no answer: the
 * head is not there to answer). A request in progress is bounded by {@code request-timeout} instead (408, then
 * closed: {@link ApiKeyAuthentication});</li>
 * <li>at most {@code max-connections} connections in total and {@code max-connections-per-address} from one address.
 * A connection over a limit makes room by closing the oldest connection (of that address, or of all) that carries
 * no request: one whose head has not arrived yet, or a kept-alive one between requests. When every connection
 * carries a request, the new connection is closed at once, without an answer. So a flood of half-sent requests
 * cannot keep out a client that sends its request promptly, even from the same address (on the default loopback
 * listener every local program is 127.0.0.1), and a request being served is never cut to make room.</li>
 * </ul>
 * <p>
 * {@link HttpListener} hooks this into the server Camel creates.
 * <p>
 * Vert.x' own {@code idleTimeout} is not used: it counts silence on the socket, so it would cut a request whose answer
 * takes long (a slow broker) and never cut a client that trickles one byte of its head at a time.
 */
final class ConnectionGuard {

    private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);
    private static final long WARN_EVERY = Duration.ofMinutes(1).toNanos();

    private final long headerTimeout;
    private final long idleTimeout;
    private final int maxConnections;
    private final int maxPerAddress;
    private final Duration headerTimeoutSetting;

    /** Open connections, oldest first; touched on Vert.x threads only, under this object's lock. */
    private final Map<HttpConnection, Tracked> connections = new LinkedHashMap<>();
    private final Map<String, Integer> perAddress = new HashMap<>();
    private long closedForRoom;
    private long refused;
    private long headerTimeouts;
    private long lastWarning = System.nanoTime() - WARN_EVERY;

    /** A connection: where from, the request it carries (if any), and since when it has carried none. */
    private static final class Tracked {
        final String address;
        HttpServerRequest current;
        boolean served;
        long waitingSince;

        Tracked(String address, long now) {
            this.address = address;
            this.waitingSince = now;
        }

        boolean busy() {
            return current != null && !current.response().ended() && !current.response().closed();
        }
    }

    ConnectionGuard(Duration headerTimeout, Duration idleTimeout, int maxConnections, int maxPerAddress) {
        this.headerTimeout = headerTimeout.toNanos();
        this.idleTimeout = idleTimeout.toNanos();
        this.maxConnections = maxConnections;
        this.maxPerAddress = maxPerAddress;
        this.headerTimeoutSetting = headerTimeout;
    }

    /** How often {@link #sweep()} should run: often enough for the shorter timeout to be kept to a quarter. */
    long sweepMillis() {
        return Math.max(100, Math.min(1000, Math.min(headerTimeout, idleTimeout) / 4_000_000));
    }

    /** {@code handler}, noting first on which connection each request arrived. */
    Handler<HttpServerRequest> noting(Handler<HttpServerRequest> handler) {
        return request -> {
            started(request);
            handler.handle(request);
        };
    }

    /** The server's connection handler: a new connection, kept or refused. */
    synchronized void opened(HttpConnection connection) {
        String address = connection.remoteAddress() == null ? "?" : connection.remoteAddress().host();
        boolean addressFull = perAddress.getOrDefault(address, 0) >= maxPerAddress;
        if (addressFull || connections.size() >= maxConnections) {
            HttpConnection room = oldestWaiting(addressFull ? address : null);
            if (room == null) {
                refused++;
                warn();
                connection.close();
                return;
            }
            forget(room);
            room.close();
            closedForRoom++;
            warn();
        }
        connections.put(connection, new Tracked(address, System.nanoTime()));
        perAddress.merge(address, 1, Integer::sum);
        connection.closeHandler(v -> closed(connection));
    }

    private synchronized void started(HttpServerRequest request) {
        Tracked tracked = connections.get(request.connection());
        if (tracked != null) {
            tracked.current = request;
            tracked.served = true;
        }
    }

    private synchronized void closed(HttpConnection connection) {
        forget(connection);
    }

    private void forget(HttpConnection connection) {
        Tracked tracked = connections.remove(connection);
        if (tracked != null) {
            perAddress.computeIfPresent(tracked.address, (a, n) -> n > 1 ? n - 1 : null);
        }
    }

    /** The oldest connection (from {@code address}, or any when null) that carries no request, or null. */
    private HttpConnection oldestWaiting(String address) {
        for (Map.Entry<HttpConnection, Tracked> entry : connections.entrySet()) {
            Tracked tracked = entry.getValue();
            if ((address == null || address.equals(tracked.address)) && !tracked.busy()) {
                return entry.getKey();
            }
        }
        return null;
    }

    /** Closes connections that waited too long for a request head: the first, or the next on a kept-alive one. */
    synchronized void sweep() {
        long now = System.nanoTime();
        for (Iterator<Map.Entry<HttpConnection, Tracked>> it = connections.entrySet().iterator(); it.hasNext();) {
            Map.Entry<HttpConnection, Tracked> entry = it.next();
            Tracked tracked = entry.getValue();
            if (tracked.current != null && !tracked.busy()) {
                tracked.current = null;
                tracked.waitingSince = now;
            }
            if (tracked.current == null && now - tracked.waitingSince >= (tracked.served ? idleTimeout
                    : headerTimeout)) {
                it.remove();
                perAddress.computeIfPresent(tracked.address, (a, n) -> n > 1 ? n - 1 : null);
                if (!tracked.served) {
                    headerTimeouts++;
                }
                entry.getKey().close();
            }
        }
        if (headerTimeouts + closedForRoom + refused > 0) {
            warn();
        }
    }

    /** One line a minute at most, however hard the listener is flooded. */
    private void warn() {
        long now = System.nanoTime();
        if (now - lastWarning < WARN_EVERY) {
            return;
        }
        lastWarning = now;
        LOG.warn("HTTP listener under pressure: {} connection(s) sent no complete request head within {} s "
                + "(mailgate.http.header-timeout), {} waiting connection(s) were closed to make room and {} new "
                + "one(s) refused (mailgate.http.max-connections={}, mailgate.http.max-connections-per-address={}); "
                + "{} connection(s) open", headerTimeouts, headerTimeoutSetting.toSeconds(), closedForRoom, refused,
                maxConnections, maxPerAddress, connections.size());
        headerTimeouts = 0;
        closedForRoom = 0;
        refused = 0;
    }
}
