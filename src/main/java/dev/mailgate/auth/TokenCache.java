package dev.mailgate.auth;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.config.Settings;

/**
 * The one token cache every sender uses.
 * <ul>
 * <li>A token is handed out only while it has at least {@code refreshMargin} of life left: Exchange
 * Online rejects tokens close to expiry.</li>
 * <li>Once a token is inside {@code refreshMargin + refreshAhead}, a refresh starts in the background,
 * so a send does not normally wait for Entra ID.</li>
 * <li>However many senders ask at once, at most one request to Entra ID is in flight (single flight).</li>
 * <li>If Entra ID is unreachable, the current token keeps being used for as long as it is still
 * usable; after a failed request the next one waits {@code failureBackoff}.</li>
 * <li>A token the server rejected is dropped, so the next caller gets a fresh one.</li>
 * </ul>
 * MSAL's own cache is bypassed (every fetch skips it): its expiry rules (5 minutes) differ from ours and it
 * never hits for authorities with an explicit port.
 */
public final class TokenCache {

    private static final Logger LOG = LoggerFactory.getLogger(TokenCache.class);

    private final TokenSource source;
    private final Duration refreshMargin;
    private final Duration refreshAhead;
    private final Duration failureBackoff;
    private final Duration waitLimit;
    private final Clock clock;
    private final Executor refresher;

    private final ReentrantLock lock = new ReentrantLock();
    private AccessToken current;
    private CompletableFuture<AccessToken> inFlight;
    private TokenException lastFailure;
    private Instant lastFailureAt;
    private Instant lastRefreshAt;
    private final AtomicLong fetches = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();

    public TokenCache(TokenSource source, Duration refreshMargin, Duration refreshAhead, Duration failureBackoff,
            Duration waitLimit, Clock clock, Executor refresher) {
        this.source = source;
        this.refreshMargin = refreshMargin;
        this.refreshAhead = refreshAhead;
        this.failureBackoff = failureBackoff;
        this.waitLimit = waitLimit;
        this.clock = clock;
        this.refresher = refresher;
    }

    /**
     * The cache with the configured timing: a caller waits for Entra ID at most its connect and read timeouts
     * (plus a little).
     */
    public static TokenCache of(TokenSource source, Settings settings, Executor refresher) {
        Settings.Token token = settings.token();
        Settings.Entra entra = settings.entra();
        return new TokenCache(source, token.refreshMargin(), token.refreshAhead(), token.failureBackoff(),
                entra.connectTimeout().plus(entra.readTimeout()).plus(Duration.ofSeconds(5)), Clock.systemUTC(),
                refresher);
    }

    /**
     * A token with at least the refresh margin of life left, fetching one (once, for all concurrent
     * callers) when needed.
     *
     * @throws TokenException when Entra ID cannot give a token and no usable one is cached
     */
    public AccessToken token() {
        CompletableFuture<AccessToken> pending;
        lock.lock();
        try {
            Instant now = clock.instant();
            if (current != null && usable(current, now)) {
                if (dueForRefresh(current, now) && inFlight == null && !backingOff(now)) {
                    LOG.debug("Access token expires at {}; refreshing it in the background", current.expiresAt());
                    startFetch();
                }
                return current;
            }
            if (inFlight != null) {
                pending = inFlight;
            } else {
                if (backingOff(now)) {
                    throw lastFailure;
                }
                pending = startFetch();
            }
        } finally {
            lock.unlock();
        }
        return await(pending);
    }

    /**
     * The server refused {@code token}: forget it, so that the next {@link #token()} fetches a new one. A token
     * that was already replaced is left alone, so many senders reporting the same rejection cause one fetch.
     */
    public void rejected(AccessToken token) {
        lock.lock();
        try {
            if (current != null && current.value().equals(token.value())) {
                LOG.info("The SMTP server rejected the access token that expires at {}; dropping it",
                        token.expiresAt());
                current = null;
            }
        } finally {
            lock.unlock();
        }
    }

    /** The cached token, if any, whether or not it is still usable (for health reports). */
    public Optional<AccessToken> peek() {
        lock.lock();
        try {
            return Optional.ofNullable(current);
        } finally {
            lock.unlock();
        }
    }

    public Optional<Instant> lastRefresh() {
        lock.lock();
        try {
            return Optional.ofNullable(lastRefreshAt);
        } finally {
            lock.unlock();
        }
    }

    public Optional<TokenException> lastFailure() {
        lock.lock();
        try {
            return Optional.ofNullable(lastFailure);
        } finally {
            lock.unlock();
        }
    }

    /** How many times Entra ID was asked for a token. */
    public long fetchCount() {
        return fetches.get();
    }

    public long failureCount() {
        return failures.get();
    }

    private boolean usable(AccessToken token, Instant now) {
        return token.remainingAt(now).compareTo(refreshMargin) >= 0;
    }

    private boolean dueForRefresh(AccessToken token, Instant now) {
        return token.remainingAt(now).compareTo(refreshMargin.plus(refreshAhead)) < 0;
    }

    private boolean backingOff(Instant now) {
        return lastFailure != null && lastFailureAt.plus(failureBackoff).isAfter(now);
    }

    /**
     * Called with the lock held. Callers wait on the returned future, which completes only after the cache has
     * recorded the outcome: a caller that gets a token can report it {@link #rejected(AccessToken)} at once.
     */
    private CompletableFuture<AccessToken> startFetch() {
        fetches.incrementAndGet();
        CompletableFuture<AccessToken> future = CompletableFuture.supplyAsync(source::fetch, refresher)
                .whenComplete((token, error) -> {
                    lock.lock();
                    try {
                        Instant now = clock.instant();
                        if (token != null) {
                            current = token;
                            lastFailure = null;
                            lastRefreshAt = now;
                            LOG.info("Got an access token from Entra ID, valid until {} (token request #{})",
                                    token.expiresAt(), fetches.get());
                            if (!usable(token, now)) {
                                LOG.warn("Entra ID issued a token valid for only {}, less than the refresh margin {} "
                                        + "(mailgate.token.refresh-margin); every send will fetch a new token",
                                        token.remainingAt(now), refreshMargin);
                            }
                        } else {
                            failures.incrementAndGet();
                            lastFailure = asTokenException(error);
                            lastFailureAt = now;
                            if (current != null && usable(current, now)) {
                                LOG.warn("Could not refresh the access token; still using the current one "
                                        + "(valid until {}): {}", current.expiresAt(), lastFailure.getMessage());
                            }
                        }
                        inFlight = null;
                    } finally {
                        lock.unlock();
                    }
                });
        // a fetch that finished before whenComplete was attached (same-thread executor, instant source) has
        // already run the callback on this thread; only a fetch still running is in flight
        if (!future.isDone()) {
            inFlight = future;
        }
        return future;
    }

    private AccessToken await(CompletableFuture<AccessToken> pending) {
        try {
            return pending.get(waitLimit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw asTokenException(e.getCause());
        } catch (TimeoutException e) {
            throw new TokenException(TokenException.Kind.UNREACHABLE,
                    "Entra ID did not answer the token request within " + waitLimit.toSeconds() + " s; "
                            + "check the network path to the authority host (mailgate.entra.authority-host)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TokenException(TokenException.Kind.UNREACHABLE, "interrupted while waiting for an access token");
        }
    }

    private static TokenException asTokenException(Throwable error) {
        Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (e instanceof TokenException te) {
            return te;
        }
        return new TokenException(TokenException.Kind.UNREACHABLE,
                "token request failed unexpectedly: " + e.getClass().getSimpleName());
    }
}
