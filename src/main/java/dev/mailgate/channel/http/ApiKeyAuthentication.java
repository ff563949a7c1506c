package dev.mailgate.channel.http;

import java.time.Duration;
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
 * {@code Authorization: Bearer <key>}. A missing or wrong key gets {@code 401} with a problem document.
 */
public final class ApiKeyAuthentication implements AuthenticationHandler {

    private final ApiKeys keys;
    /** Wrong or missing keys an address may send per minute before it is refused for a while. */
    static final int FAILED_PER_MINUTE = 60;
    private static final int MAX_TRACKED_ADDRESSES = 10_000;

    private final int perMinute;
    private final Map<String, Bucket> failedAttempts = new ConcurrentHashMap<>();
    /** One bucket per key: {@code perMinute} requests a minute, refilled evenly. */
    private final List<Bucket> buckets;

    ApiKeyAuthentication(ApiKeys keys, int perMinute) {
        this.keys = keys;
        this.perMinute = perMinute;
        this.buckets = IntStream.range(0, keys.count()).<Bucket>mapToObj(i -> Bucket.builder()
                .addLimit(limit -> limit.capacity(perMinute).refillGreedy(perMinute, Duration.ofMinutes(1)))
                .build()).toList();
    }

    /**
     * The server's authentication configuration: every path needs a key, and each key may make
     * {@code perMinute} requests a minute.
     */
    public static AuthenticationConfig everyPath(ApiKeys keys, int perMinute) {
        AuthenticationConfig config = new AuthenticationConfig(List.of(entry("/*", keys, perMinute)));
        config.setEnabled(true);
        return config;
    }

    private static AuthenticationConfig.AuthenticationConfigEntry entry(String path, ApiKeys keys, int perMinute) {
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
                return new ApiKeyAuthentication(keys, perMinute);
            }
        });
        return entry;
    }

    @Override
    public void handle(RoutingContext context) {
        String address = context.request().remoteAddress() == null ? "?" : context.request().remoteAddress().host();
        Bucket failures = failedAttempts.get(address);
        if (failures != null && failures.getAvailableTokens() <= 0) {
            // locked out for a while after many wrong keys: the key is not even looked at, so guessing gains nothing
            tooMany(context, failures.estimateAbilityToConsume(1).getNanosToWaitForRefill(), "this address sent more than "
                    + FAILED_PER_MINUTE + " wrong or missing API keys in a minute");
            return;
        }
        String key = context.request().getHeader("X-API-Key");
        String authorization = context.request().getHeader(HttpHeaders.AUTHORIZATION);
        if (key == null && authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            key = authorization.substring(7).trim();
        }
        int which = keys.indexOf(key);
        if (which >= 0) {
            ConsumptionProbe probe = buckets.get(which).tryConsumeAndReturnRemaining(1);
            if (probe.isConsumed()) {
                context.next();
                return;
            }
            tooMany(context, probe.getNanosToWaitForRefill(), "this API key made more than " + perMinute
                    + " requests in a minute (mailgate.http.requests-per-minute)");
            return;
        }
        failed(address);
        context.response()
                .setStatusCode(401)
                .putHeader(HttpHeaders.CONTENT_TYPE, Problems.CONTENT_TYPE)
                .putHeader("WWW-Authenticate", "Bearer realm=\"mailgate\"")
                .end(Problems.of(401, "unauthorized", "Missing or wrong API key",
                        key == null ? "send the API key in the X-API-Key header (or Authorization: Bearer <key>)"
                                : "the API key is not valid"));
    }

    private void failed(String address) {
        if (failedAttempts.size() > MAX_TRACKED_ADDRESSES) {
            // many addresses failing at once: start counting afresh rather than grow without bound
            failedAttempts.clear();
        }
        failedAttempts.computeIfAbsent(address, a -> Bucket.builder().addLimit(limit -> limit
                .capacity(FAILED_PER_MINUTE).refillGreedy(FAILED_PER_MINUTE, Duration.ofMinutes(1))).build())
                .tryConsume(1);
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
