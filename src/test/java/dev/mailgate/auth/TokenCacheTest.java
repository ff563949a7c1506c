package dev.mailgate.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

class TokenCacheTest {

    private static final Duration MARGIN = Duration.ofMinutes(10);
    private static final Duration AHEAD = Duration.ofMinutes(5);
    private static final Duration BACKOFF = Duration.ofSeconds(30);
    private static final Duration WAIT_LIMIT = Duration.ofSeconds(30);
    private static final Duration LIFETIME = Duration.ofMinutes(60);

    private final MutableClock clock = new MutableClock(Instant.parse("2024-06-03T08:00:00Z"));
    private final FakeSource source = new FakeSource();
    private final ExecutorService executor = Executors.newCachedThreadPool();
    private final TokenCache cache = new TokenCache(source, MARGIN, AHEAD, BACKOFF, WAIT_LIMIT, clock, executor);

    @AfterEach
    void tearDown() {
        source.open();
        executor.shutdownNow();
    }

    /**
     * Issues {@code token-1}, {@code token-2}, ... valid for {@link #lifetime} from the clock's now; can be made
     * to block until {@link #open()} or to fail.
     */
    private final class FakeSource implements TokenSource {
        final AtomicInteger calls = new AtomicInteger();
        volatile Duration lifetime = LIFETIME;
        volatile CountDownLatch gate;
        volatile TokenException failure;

        void close() {
            gate = new CountDownLatch(1);
        }

        void open() {
            CountDownLatch g = gate;
            if (g != null) {
                g.countDown();
            }
        }

        @Override
        public AccessToken fetch() {
            int n = calls.incrementAndGet();
            CountDownLatch g = gate;
            if (g != null) {
                try {
                    if (!g.await(10, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("test gate never opened");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
            TokenException f = failure;
            if (f != null) {
                throw f;
            }
            return new AccessToken("token-" + n, clock.instant().plus(lifetime));
        }
    }

    /** Polls often, so that waiting for a background thread costs milliseconds, not the default 100 ms. */
    private static ConditionFactory eventually() {
        return await().atMost(Duration.ofSeconds(10)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2));
    }

    private static TokenException unreachable() {
        return new TokenException(TokenException.Kind.UNREACHABLE, "cannot reach Entra ID at https://login.example");
    }

    // --- single flight ----------------------------------------------------------------------------------

    @Test
    void fetches_once_for_fifty_concurrent_callers_and_gives_them_all_the_same_token() throws Exception {
        source.close();
        List<AccessToken> results = new CopyOnWriteArrayList<>();
        List<Thread> callers = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            Thread t = new Thread(() -> results.add(cache.token()), "caller-" + i);
            callers.add(t);
            t.start();
        }
        // every caller is parked on the one pending fetch before Entra ID "answers"
        eventually().until(() -> callers.stream()
                .allMatch(t -> t.getState() == Thread.State.TIMED_WAITING));
        source.open();
        for (Thread t : callers) {
            t.join(10_000);
        }

        assertThat(source.calls).hasValue(1);
        assertThat(results).hasSize(50).allSatisfy(t -> assertThat(t.value()).isEqualTo("token-1"));
    }

    @Test
    void hands_out_a_token_when_the_executor_runs_the_fetch_on_the_calling_thread() {
        TokenCache direct = new TokenCache(source, MARGIN, AHEAD, BACKOFF, WAIT_LIMIT, clock, Runnable::run);

        assertThat(direct.token().value()).isEqualTo("token-1");
        assertThat(direct.token().value()).isEqualTo("token-1");
        assertThat(source.calls).hasValue(1);
    }

    @Test
    void has_recorded_the_token_by_the_time_the_caller_gets_it() {
        AccessToken token = cache.token();

        assertThat(cache.peek()).contains(token);
        assertThat(cache.lastRefresh()).contains(clock.instant());
    }

    // --- reuse and refresh ------------------------------------------------------------------------------

    @Test
    void returns_the_cached_token_without_fetching_while_it_has_margin_plus_ahead_left() {
        AccessToken first = cache.token();
        clock.advance(LIFETIME.minus(MARGIN).minus(AHEAD)); // exactly margin + ahead left

        AccessToken second = cache.token();

        assertThat(second).isSameAs(first);
        assertThat(source.calls).hasValue(1);
        assertThat(cache.fetchCount()).isEqualTo(1);
    }

    @Test
    void returns_the_current_token_at_once_inside_the_refresh_ahead_window_and_refreshes_in_the_background() {
        cache.token();
        clock.advance(LIFETIME.minus(MARGIN).minus(Duration.ofMinutes(2))); // 12 minutes left
        source.close();

        // the source blocks, so these calls could not return token-1 if they waited for it
        AccessToken during = cache.token();
        AccessToken again = cache.token();

        assertThat(during.value()).isEqualTo("token-1");
        assertThat(again.value()).isEqualTo("token-1");
        assertThat(cache.fetchCount()).as("one background fetch for both calls").isEqualTo(2);

        source.open();
        eventually().until(() -> cache.peek().map(AccessToken::value)
                .orElse("").equals("token-2"));

        assertThat(cache.token().value()).isEqualTo("token-2");
        assertThat(source.calls).hasValue(2);
    }

    @Test
    void never_returns_a_token_below_the_margin_but_waits_for_a_fresh_one() {
        cache.token();
        clock.advance(LIFETIME.minus(MARGIN).plusSeconds(1)); // 9:59 left: still valid, but too close

        AccessToken token = cache.token();

        assertThat(token.value()).isEqualTo("token-2");
        assertThat(token.remainingAt(clock.instant())).isEqualTo(LIFETIME);
    }

    @Test
    void keeps_returning_the_current_token_when_the_background_refresh_fails() {
        cache.token();
        clock.advance(LIFETIME.minus(MARGIN).minus(Duration.ofMinutes(2)));
        source.failure = unreachable();

        assertThat(cache.token().value()).isEqualTo("token-1");
        eventually().until(() -> cache.failureCount() == 1);

        assertThat(cache.token().value()).isEqualTo("token-1");
        assertThat(cache.lastFailure()).get().extracting(Throwable::getMessage)
                .isEqualTo("cannot reach Entra ID at https://login.example");
        assertThat(source.calls).as("no new attempt within the back-off").hasValue(2);
    }

    // --- failures ---------------------------------------------------------------------------------------

    @Test
    void throws_the_sources_explanation_when_there_is_no_usable_token() {
        source.failure = unreachable();

        Throwable thrown = catchThrowable(cache::token);

        assertThat(thrown).isInstanceOf(TokenException.class)
                .hasMessage("cannot reach Entra ID at https://login.example");
        assertThat(((TokenException) thrown).kind()).isEqualTo(TokenException.Kind.UNREACHABLE);
    }

    @Test
    void does_not_ask_again_within_the_failure_backoff() {
        source.failure = unreachable();
        catchThrowable(cache::token);
        clock.advance(BACKOFF.minusSeconds(1));

        Throwable thrown = catchThrowable(cache::token);

        assertThat(thrown).isInstanceOf(TokenException.class).hasMessageContaining("cannot reach Entra ID");
        assertThat(source.calls).hasValue(1);
    }

    @Test
    void asks_again_once_the_failure_backoff_has_passed() {
        source.failure = unreachable();
        catchThrowable(cache::token);
        clock.advance(BACKOFF);
        source.failure = null;

        AccessToken token = cache.token();

        assertThat(token.value()).isEqualTo("token-2");
        assertThat(source.calls).hasValue(2);
        assertThat(cache.lastFailure()).isEmpty();
    }

    @Test
    void wraps_an_unexpected_source_error_as_unreachable() {
        TokenCache failing = new TokenCache(() -> {
            throw new IllegalStateException("bug");
        }, MARGIN, AHEAD, BACKOFF, WAIT_LIMIT, clock, executor);

        Throwable thrown = catchThrowable(failing::token);

        assertThat(thrown).isInstanceOf(TokenException.class)
                .hasMessageContaining("token request failed unexpectedly: IllegalStateException");
    }

    @Test
    void gives_up_waiting_after_the_wait_limit() {
        TokenCache impatient = new TokenCache(source, MARGIN, AHEAD, BACKOFF, Duration.ofMillis(50), clock, executor);
        source.close();

        Throwable thrown = catchThrowable(impatient::token);

        assertThat(thrown).isInstanceOf(TokenException.class).hasMessageContaining("did not answer the token request");
        assertThat(((TokenException) thrown).kind()).isEqualTo(TokenException.Kind.UNREACHABLE);
    }

    // --- rejection --------------------------------------------------------------------------------------

    @Test
    void fetches_a_new_token_after_the_current_one_was_rejected() {
        AccessToken first = cache.token();

        cache.rejected(first);

        assertThat(cache.peek()).isEmpty();
        assertThat(cache.token().value()).isEqualTo("token-2");
        assertThat(source.calls).hasValue(2);
    }

    @Test
    void ignores_a_late_rejection_of_a_token_that_was_already_replaced() {
        AccessToken first = cache.token();
        cache.rejected(first);
        AccessToken second = cache.token();

        cache.rejected(first); // another sender reporting the same old token

        assertThat(cache.token()).isSameAs(second);
        assertThat(source.calls).hasValue(2);
    }

    // --- odd tokens -------------------------------------------------------------------------------------

    @Test
    void hands_out_a_token_shorter_than_the_margin_with_a_warning_instead_of_looping() {
        Logger logger = (Logger) LoggerFactory.getLogger(TokenCache.class);
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        logger.addAppender(log);
        source.lifetime = Duration.ofMinutes(5);
        try {
            AccessToken token = cache.token();

            assertThat(token.value()).isEqualTo("token-1");
            assertThat(source.calls).hasValue(1);
            assertThat(log.list).anySatisfy(e -> {
                assertThat(e.getLevel()).isEqualTo(Level.WARN);
                assertThat(e.getFormattedMessage()).contains("valid for only PT5M")
                        .contains("mailgate.token.refresh-margin");
            });
        } finally {
            logger.detachAppender(log);
        }
    }
}
