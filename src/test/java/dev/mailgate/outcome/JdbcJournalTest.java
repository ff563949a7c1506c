package dev.mailgate.outcome;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import com.zaxxer.hikari.HikariDataSource;

import dev.mailgate.request.MailRequest;

/**
 * The journal's contract on every database it claims to support: the embedded H2 always, PostgreSQL when
 * {@code MAILGATE_TEST_POSTGRES_URL} names one ({@code .ci/run} starts a throw-away server for it).
 */
class JdbcJournalTest {

    @TempDir
    Path dir;

    private HikariDataSource dataSource;

    static Stream<String> databases() {
        return Stream.of("h2", "postgresql");
    }

    private JdbcJournal journal(String database, Clock clock) throws Exception {
        dataSource = new HikariDataSource();
        if (database.equals("h2")) {
            dataSource.setJdbcUrl("jdbc:h2:file:" + dir.resolve("journal").toAbsolutePath());
        } else {
            String url = System.getenv("MAILGATE_TEST_POSTGRES_URL");
            Assumptions.assumeTrue(url != null, "MAILGATE_TEST_POSTGRES_URL is not set: no PostgreSQL to test against");
            dataSource.setJdbcUrl(url);
            try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
                s.execute("DROP SCHEMA public CASCADE");
                s.execute("CREATE SCHEMA public");
            }
        }
        return new JdbcJournal(dataSource, Duration.ofHours(24), clock).migrate();
    }

    @AfterEach
    void close() {
        if (dataSource != null) {
            dataSource.close();
        }
    }

    private static MailRequest request(String key) {
        return new MailRequest("sender@contoso.test", List.of("a@example.com", "b@example.com"), List.of(),
                List.of("audit@example.com"), List.of(), "Hello", "Hi", null, null, Map.of(), List.of(), Map.of(),
                null, key, null);
    }

    private static Journal.Ref ref() {
        return new Journal.Ref(UUID.randomUUID().toString(), "http", "http POST /api/v1/messages");
    }

    @ParameterizedTest
    @MethodSource("databases")
    void admitting_for_the_queue_records_received_and_queued_in_one_step_unless_it_is_a_repeat(String database)
            throws Exception {
        JdbcJournal journal = journal(database, Clock.systemUTC());
        Journal.Ref ref = ref();
        Journal.Ref repeat = ref();

        assertThat(journal.admitForQueue(ref, request("invoice-7"))).isEmpty();
        assertThat(journal.admitForQueue(repeat, request("invoice-7"))).contains(ref.id());

        Journal.Entry entry = journal.find(ref.id()).orElseThrow();
        assertThat(entry.state()).isEqualTo(Journal.State.QUEUED);
        assertThat(entry.sender()).isEqualTo("sender@contoso.test");
        assertThat(entry.recipients()).isEqualTo(3);
        assertThat(entry.idempotencyKey()).isEqualTo("invoice-7");
        assertThat(entry.events()).extracting(Journal.Event::state)
                .containsExactly(Journal.State.RECEIVED, Journal.State.QUEUED);
        assertThat(journal.find(repeat.id())).as("a repeat records nothing").isEmpty();
    }

    @ParameterizedTest
    @MethodSource("databases")
    void records_a_sent_request_with_its_history(String database) throws Exception {
        JdbcJournal journal = journal(database, Clock.systemUTC());
        Journal.Ref ref = ref();

        assertThat(journal.admit(ref, request(null))).isEmpty();
        journal.queued(ref);
        journal.sending(ref, 1);
        journal.retrying(ref, 1, new Failure(Failure.Category.TRANSIENT, "the SMTP server deferred the message",
                "temporary", "451 4.7.500 Server busy", List.of()), Instant.parse("2026-11-28T10:00:30Z"));
        journal.sending(ref, 2);
        journal.sent(ref, new Receipt(ref.id(), "<" + ref.id() + "@contoso.test>", "sender@contoso.test", 3,
                "250 2.0.0 OK <x> [Hostname=AM0PR]", Instant.now(), "smtp.office365.com:587", 2, false));

        Journal.Entry entry = journal.find(ref.id()).orElseThrow();
        assertThat(entry.state()).isEqualTo(Journal.State.SENT);
        assertThat(entry.channel()).isEqualTo("http");
        assertThat(entry.sender()).isEqualTo("sender@contoso.test");
        assertThat(entry.recipients()).isEqualTo(3);
        assertThat(entry.attempts()).isEqualTo(2);
        assertThat(entry.messageId()).isEqualTo("<" + ref.id() + "@contoso.test>");
        assertThat(entry.serverReply()).isEqualTo("250 2.0.0 OK <x> [Hostname=AM0PR]");
        assertThat(entry.failureCategory()).isNull();
        assertThat(entry.events()).extracting(Journal.Event::state).containsExactly(Journal.State.RECEIVED,
                Journal.State.QUEUED, Journal.State.SENDING, Journal.State.RETRYING, Journal.State.SENDING,
                Journal.State.SENT);
        assertThat(entry.events().get(3).detail()).contains("transient", "451 4.7.500",
                "next attempt at 2026-11-28T10:00:30Z");
    }

    @ParameterizedTest
    @MethodSource("databases")
    void records_a_failure_it_never_saw_arrive(String database) throws Exception {
        JdbcJournal journal = journal(database, Clock.systemUTC());
        Journal.Ref ref = new Journal.Ref(UUID.randomUUID().toString(), "outbox", "outbox/broken.json");

        journal.failed(ref, 1, new Failure(Failure.Category.INVALID_REQUEST, "the request is invalid: (request): is "
                + "not valid JSON", "correct the fields listed"));

        Journal.Entry entry = journal.find(ref.id()).orElseThrow();
        assertThat(entry.state()).isEqualTo(Journal.State.FAILED);
        assertThat(entry.source()).isEqualTo("outbox/broken.json");
        assertThat(entry.failureCategory()).isEqualTo("invalid-request");
        assertThat(entry.failureAdvice()).isEqualTo("correct the fields listed");
        assertThat(entry.events()).extracting(Journal.Event::state)
                .containsExactly(Journal.State.RECEIVED, Journal.State.FAILED);
    }

    @ParameterizedTest
    @MethodSource("databases")
    void an_idempotency_key_returns_the_first_id_within_the_window_and_is_free_after_it(String database)
            throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-28T10:00:00Z"));
        JdbcJournal journal = journal(database, clock);
        Journal.Ref first = ref();
        Journal.Ref second = ref();
        Journal.Ref later = ref();

        assertThat(journal.admit(first, request("order-42"))).isEmpty();
        journal.queued(first);
        clock.advance(Duration.ofHours(23));
        assertThat(journal.admit(second, request("order-42"))).contains(first.id());
        assertThat(journal.find(second.id())).isEmpty();
        assertThat(journal.admit(first, request("order-42"))).as("the same delivery read again").isEmpty();
        clock.advance(Duration.ofHours(2));
        assertThat(journal.admit(later, request("order-42"))).isEmpty();
    }

    @ParameterizedTest
    @MethodSource("databases")
    void an_idempotency_key_is_its_principal_s_own(String database) throws Exception {
        JdbcJournal journal = journal(database, Clock.systemUTC());
        Journal.Ref alice = new Journal.Ref(UUID.randomUUID().toString(), "http", "http POST", "http:alice");
        Journal.Ref bob = new Journal.Ref(UUID.randomUUID().toString(), "http", "http POST", "http:bob");
        Journal.Ref aliceAgain = new Journal.Ref(UUID.randomUUID().toString(), "http", "http POST", "http:alice");

        assertThat(journal.admitForQueue(bob, request("invoice-7"))).isEmpty();
        assertThat(journal.admitForQueue(alice, request("invoice-7"))).as("another principal's key").isEmpty();
        assertThat(journal.admitForQueue(aliceAgain, request("invoice-7"))).contains(alice.id());

        assertThat(journal.find(alice.id()).orElseThrow().principal()).isEqualTo("http:alice");
        assertThat(journal.find(bob.id()).orElseThrow().principal()).isEqualTo("http:bob");
        assertThat(journal.find(aliceAgain.id())).isEmpty();
    }

    @ParameterizedTest
    @MethodSource("databases")
    void a_key_recorded_before_principals_still_stops_a_repeat_until_its_window_ends(String database)
            throws Exception {
        MutableClock clock = new MutableClock(Instant.now());
        JdbcJournal journal = journal(database, clock);
        // the schema as it was before principals (V2), with a key a client used just before the upgrade
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute("DROP TABLE delivery_event");
            s.execute("DROP TABLE delivery");
            s.execute("DROP TABLE idempotency_key");
            s.execute("DROP TABLE \"flyway_schema_history\"");
        }
        org.flywaydb.core.Flyway.configure().dataSource(dataSource).locations("classpath:db/migration").target("2")
                .load().migrate();
        String before = UUID.randomUUID().toString();
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            s.execute("INSERT INTO delivery (id, channel, source, state, attempts, idempotency_key, created_at, "
                    + "updated_at) VALUES ('" + before + "', 'http', 'http POST', 'SENT', 1, 'nightly', "
                    + "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)");
            s.execute("INSERT INTO idempotency_key (idempotency_key, delivery_id, created_at) VALUES ('nightly', '"
                    + before + "', CURRENT_TIMESTAMP)");
        }
        journal.migrate();

        assertThat(journal.admit(new Journal.Ref(UUID.randomUUID().toString(), "http", "http POST", "http:default"),
                request("nightly"))).as("the retry after the upgrade").contains(before);
        assertThat(journal.find(before).orElseThrow().principal()).as("unknown before the upgrade").isNull();
        clock.advance(Duration.ofHours(25));
        Journal.Ref after = new Journal.Ref(UUID.randomUUID().toString(), "http", "http POST", "http:default");
        assertThat(journal.admit(after, request("nightly"))).isEmpty();
        assertThat(journal.admit(new Journal.Ref(UUID.randomUUID().toString(), "http", "http POST", "http:default"),
                request("nightly"))).contains(after.id());
    }

    @ParameterizedTest
    @MethodSource("databases")
    void a_delivery_read_again_after_it_was_sent_is_not_sent_again(String database) throws Exception {
        JdbcJournal journal = journal(database, Clock.systemUTC());
        Journal.Ref ref = ref();
        journal.admit(ref, request(null));
        journal.sent(ref, new Receipt(ref.id(), "<m@x>", "sender@contoso.test", 1, "250 OK", Instant.now(), "h:587", 1,
                false));

        assertThat(journal.admit(ref, request(null))).contains(ref.id());
        assertThat(journal.find(ref.id()).orElseThrow().state()).isEqualTo(Journal.State.SENT);
    }

    @ParameterizedTest
    @MethodSource("databases")
    void a_key_held_by_a_request_abandoned_before_it_was_queued_is_free_again(String database) throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-28T10:00:00Z"));
        JdbcJournal journal = journal(database, clock);
        Journal.Ref abandoned = ref();
        journal.admit(abandoned, request("crashed"));

        assertThat(journal.admit(ref(), request("crashed"))).as("still being admitted").contains(abandoned.id());
        clock.advance(Duration.ofMinutes(2));
        assertThat(journal.admit(ref(), request("crashed"))).as("abandoned").isEmpty();
    }

    @ParameterizedTest
    @MethodSource("databases")
    void a_key_released_because_the_request_was_not_accepted_can_be_used_again(String database) throws Exception {
        JdbcJournal journal = journal(database, Clock.systemUTC());
        Journal.Ref first = ref();

        journal.admit(first, request("retry-me"));
        journal.notAccepted(first, new Failure(Failure.Category.TRANSIENT, "the queue is not available", "again"));

        assertThat(journal.admit(ref(), request("retry-me"))).isEmpty();
        assertThat(journal.find(first.id()).orElseThrow().state()).isEqualTo(Journal.State.FAILED);
    }

    @ParameterizedTest
    @MethodSource("databases")
    void concurrent_requests_with_the_same_new_key_admit_exactly_one(String database) throws Exception {
        JdbcJournal journal = journal(database, Clock.systemUTC());
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Callable<Optional<String>>> calls = IntStream.range(0, 16)
                    .<Callable<Optional<String>>>mapToObj(i -> () -> journal.admit(ref(), request("race"))).toList();
            List<Future<Optional<String>>> results = pool.invokeAll(calls);

            long admitted = 0;
            for (Future<Optional<String>> r : results) {
                admitted += r.get().isEmpty() ? 1 : 0;
            }
            assertThat(admitted).isEqualTo(1);
        } finally {
            pool.shutdown();
        }
    }

    /** A clock the test moves by hand. */
    static final class MutableClock extends Clock {
        private Instant now;

        MutableClock(Instant now) {
            this.now = now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }
}
