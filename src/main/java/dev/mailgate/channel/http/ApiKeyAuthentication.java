package dev.mailgate.channel.http;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.AuthenticationHandler;

import org.apache.camel.component.platform.http.vertx.auth.AuthenticationConfig;

/**
 * Checks the API key before anything else, body parsing and uploads included: {@code X-API-Key: <key>} or
 * {@code Authorization: Bearer <key>}. A missing or wrong key gets {@code 401} with a problem document; an address
 * that sends many of those gets {@code 429} for them, but never for a request with a valid key; a key over its rate
 * gets {@code 429}; a request with a right key that is not answered in time gets {@code 408}, and its connection is
 * closed. Only the liveness and readiness probes need no key.
 */
public final class ApiKeyAuthentication implements AuthenticationHandler {

    private final ApiKeys keys;
    /** Requests without a valid key an address may send per minute before such requests get {@code 429}. */
    static final int FAILED_PER_MINUTE = 60;
    private static final int MAX_TRACKED_ADDRESSES = 10_000;

    private final int perMinute;
    private final Duration requestTimeout;
    private final Path uploads;
    private final Map<String, Bucket> failedAttempts = new ConcurrentHashMap<>();
    /** One bucket per key: {@code perMinute} requests a minute, refilled evenly. */
    private final List<Bucket> buckets;

    ApiKeyAuthentication(ApiKeys keys, int perMinute, Duration requestTimeout, Path uploads) {
        this.keys = keys;
        this.perMinute = perMinute;
        this.requestTimeout = requestTimeout;
        this.uploads = uploads;
        this.buckets = IntStream.range(0, keys.count()).<Bucket>mapToObj(i -> Bucket.builder()
                .addLimit(limit -> limit.capacity(perMinute).refillGreedy(perMinute, Duration.ofMinutes(1)))
                .build()).toList();
    }

    /**
     * The server's authentication configuration: every path but the liveness and readiness probes needs a key, and
     * each key may make {@code perMinute} requests a minute.
     */
    public static AuthenticationConfig everyPath(ApiKeys keys, int perMinute, Duration requestTimeout, Path uploads) {
        AuthenticationConfig config = new AuthenticationConfig(List.of(entry("/*", keys, perMinute,
                requestTimeout, uploads)));
        config.setEnabled(true);
        return config;
    }

    private static AuthenticationConfig.AuthenticationConfigEntry entry(String path, ApiKeys keys, int perMinute,
            Duration requestTimeout, Path uploads) {
        AuthenticationConfig.AuthenticationConfigEntry entry = new AuthenticationConfig.AuthenticationConfigEntry();
        entry.setPath(path);
        entry.setAuthenticationProviderFactory(vertx -> (credentials, handler) -> {
            throw new UnsupportedOperationException("API keys are checked by the handler");
        });
        entry.setAuthenticationHandlerFactory(new AuthenticationConfig.AuthenticationHandlerFactory() {
            @Override
            @SuppressWarnings("unchecked")
            public <T extends io.vertx.ext.auth.authentication.AuthenticationProvider> AuthenticationHandler
                    createAuthenticationHandler(T provider) {
                return new ApiKeyAuthentication(keys, perMinute, requestTimeout, uploads);
            }
        });
        return entry;
    }

    @Override
    public void handle(RoutingContext context) {
        if (HttpApi.PROBES.contains(context.request().path())) {
            // liveness and readiness say UP or DOWN and nothing else: load balancers and orchestrators hold no key.
            // So they take no body either: a probe announcing one that never comes would hold its connection as a
            // request in progress, which the listener's limits never close to make room, and a client without a
            // key could fill them
            if (hasBody(context)) {
                Problems.answer(context, 400, "body-not-allowed", "Body not allowed", "the health probes take no "
                        + "body; send GET " + context.request().path() + " without one");
                return;
            }
            deadline(context);
            context.next();
            return;
        }
        String key = context.request().getHeader("X-API-Key");
        String authorization = context.request().getHeader(HttpHeaders.AUTHORIZATION);
        if (key == null && authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            key = authorization.substring(7).trim();
        }
        // the key first: a request with a valid key is never refused for failures of other clients at its address
        // (on the default loopback listener every local program shares 127.0.0.1); only its key's own rate counts
        int which = keys.indexOf(key);
        if (which >= 0) {
            ConsumptionProbe probe = buckets.get(which).tryConsumeAndReturnRemaining(1);
            if (probe.isConsumed()) {
                // who this is, for the API (ApiKeys.caller): its requests, idempotency keys and state are its own
                context.setUser(keys.user(which));
                deadline(context);
                context.next();
                return;
            }
            tooMany(context, probe.getNanosToWaitForRefill(), "this API key made more than " + perMinute
                    + " requests in a minute (mailgate.http.requests-per-minute)");
            return;
        }
        // no valid key: throttled per address. Keys are at least 16 characters and meant to be random, so no rate
        // makes guessing one feasible; the throttle only keeps a misconfigured or hostile client's noise bounded
        String address = context.request().remoteAddress() == null ? "?" : context.request().remoteAddress().host();
        Bucket failures = failures(address);
        if (!failures.tryConsume(1)) {
            tooMany(context, failures.estimateAbilityToConsume(1).getNanosToWaitForRefill(), "this address sent "
                    + "more than " + FAILED_PER_MINUTE + " wrong or missing API keys in a minute");
            return;
        }
        context.response()
                .setStatusCode(401)
                .putHeader(HttpHeaders.CONTENT_TYPE, Problems.CONTENT_TYPE)
                .putHeader("WWW-Authenticate", "Bearer realm=\"mailgate\"")
                .end(Problems.of(401, "unauthorized", "Missing or wrong API key",
                        key == null ? "send the API key in the X-API-Key header (or Authorization: Bearer <key>)"
                                : "the API key is not valid"));
    }

    /**
     * A request that is not answered within {@code mailgate.http.request-timeout} (a body that never ends, a
     * multipart without its closing boundary) gets {@code 408} and its connection closed; ending the response also
     * deletes the parts it uploaded.
     */
    private void deadline(RoutingContext context) {
        long timer = context.vertx().setTimer(requestTimeout.toMillis(), t -> {
            if (!context.response().ended() && !context.response().closed()) {
                context.response()
                        .setStatusCode(408)
                        .putHeader(HttpHeaders.CONTENT_TYPE, Problems.CONTENT_TYPE)
                        .putHeader(HttpHeaders.CONNECTION, "close")
                        .end(Problems.of(408, "request-timeout", "Request timeout", "the request was not answered "
                                + "within " + requestTimeout.toSeconds() + " s (mailgate.http.request-timeout); send "
                                + "it again, with an idempotencyKey so that it cannot be sent twice"))
                        // the header alone does not do it: Vert.x keeps the connection for the rest of the body,
                        // which may never come. Close it once the answer is written
                        .onComplete(written -> context.request().connection().close());
                // a part still being written when the request timed out is not deleted with the finished ones. One
                // request timeout from now it is older than any live request's files (a request lives at most that
                // long), so sweeping what is older than the timeout then takes it and leaves other clients' alone
                context.vertx().setTimer(requestTimeout.toMillis(), later -> context.vertx().executeBlocking(
                        () -> PartialUploads.sweep(uploads, Instant.now().minus(requestTimeout)), false));
            }
        });
        context.addEndHandler(v -> context.vertx().cancelTimer(timer));
    }

    /** Whether the request announces a body: a length above zero, or one sent in chunks. */
    private static boolean hasBody(RoutingContext context) {
        String length = context.request().getHeader(HttpHeaders.CONTENT_LENGTH);
        return context.request().getHeader(HttpHeaders.TRANSFER_ENCODING) != null
                || length != null && !length.strip().equals("0");
    }

    /** The bucket of wrong or missing keys an address may still send this minute. */
    private Bucket failures(String address) {
        if (failedAttempts.size() > MAX_TRACKED_ADDRESSES) {
            // many addresses failing at once: start counting afresh rather than grow without bound
            failedAttempts.clear();
        }
        return failedAttempts.computeIfAbsent(address, a -> Bucket.builder().addLimit(limit -> limit
                .capacity(FAILED_PER_MINUTE).refillGreedy(FAILED_PER_MINUTE, Duration.ofMinutes(1))).build());
    }

    private static void tooMany(RoutingContext context, long nanosToWait, String why) {
        long seconds = Math.max(1, TimeUnit.NANOSECONDS.toSeconds(nanosToWait) + 1);
        context.response()
                .setStatusCode(429)
                .putHeader(HttpHeaders.CONTENT_TYPE, Problems.CONTENT_TYPE)
                .putHeader("Retry-After", Long.toString(seconds))
                .end(Problems.of(429, "too-many-requests", "Too many requests", why + "; try again in " + seconds
                        + " s"));
    }
}
