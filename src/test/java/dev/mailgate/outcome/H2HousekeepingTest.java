package dev.mailgate.outcome;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.zaxxer.hikari.HikariDataSource;

import dev.mailgate.request.MailRequest;

/**
 * The embedded journal's chunks follow its data, not the number of commits: with {@code WRITE_DELAY=0} (the default
 * URL) H2 does not compact its file, and without {@link H2Housekeeping} every request leaves chunks behind, in the
 * file and with their bookkeeping on the heap. H2's retention time is 0 here, so that emptied chunks are freed at once
 * and what is left is what only compacting frees.
 */
class H2HousekeepingTest {

    private static final int REQUESTS = 1500;

    @TempDir
    Path dir;

    private HikariDataSource dataSource;

    @AfterEach
    void close() {
        if (dataSource != null) {
            dataSource.close();
        }
    }

    @Test
    void the_journal_keeps_its_chunks_bounded_however_many_requests_pass() throws Exception {
        JdbcJournal journal = journal("WRITE_DELAY=0;RETENTION_TIME=0");
        assertThat(H2Housekeeping.needed(dataSource)).isTrue();
        // not started: the test runs the passes itself, every 50 requests
        H2Housekeeping housekeeping = new H2Housekeeping(dataSource, null);

        long afterAThird = 0;
        for (int i = 1; i <= REQUESTS; i++) {
            deliver(journal);
            if (i % 50 == 0) {
                housekeeping.compact();
            }
            if (i == REQUESTS / 3) {
                afterAThird = info("info.CHUNK_COUNT");
            }
        }

        // some 0.8 chunks per request without it (below); with it, a few hundred chunks hold the journal's data
        assertThat(info("info.CHUNK_COUNT")).as("chunks after %d requests (after a third: %d)", REQUESTS, afterAThird)
                .isLessThan(REQUESTS / 5).isLessThan(afterAThird + REQUESTS / 10);
    }

    @Test
    void without_it_every_request_leaves_chunks_behind() throws Exception {
        JdbcJournal journal = journal("WRITE_DELAY=0;RETENTION_TIME=0");

        for (int i = 0; i < REQUESTS; i++) {
            deliver(journal);
        }

        // what the test above guards against
        assertThat(info("info.CHUNK_COUNT")).isGreaterThan(REQUESTS / 2);
    }

    @Test
    void is_left_to_h2_when_its_background_writer_runs() throws Exception {
        journal("WRITE_DELAY=500");

        assertThat(H2Housekeeping.needed(dataSource)).isFalse();
    }

    private JdbcJournal journal(String settings) {
        dataSource = new HikariDataSource();
        dataSource.setJdbcUrl("jdbc:h2:file:" + dir.resolve("journal").toAbsolutePath() + ";" + settings);
        return new JdbcJournal(dataSource, Duration.ofHours(24), Clock.systemUTC()).migrate();
    }

    /** The commits of one request sent at the first attempt, as the delivery path makes them. */
    private static void deliver(JdbcJournal journal) {
        Journal.Ref ref = new Journal.Ref(UUID.randomUUID().toString(), "http", "http POST /api/v1/messages");
        journal.admitForQueue(ref, new MailRequest("sender@contoso.test", List.of("a@example.com"), List.of(),
                List.of(), List.of(), "Hello", "Hi", null, null, Map.of(), List.of(), Map.of(), null, ref.id(), null));
        journal.sending(ref, 1);
        journal.sent(ref, new Receipt(ref.id(), "<" + ref.id() + "@contoso.test>", "sender@contoso.test", 1,
                "250 2.0.0 OK <x> [Hostname=AM0PR]", Instant.now(), "smtp.office365.com:587", 1, false));
    }

    /** One of H2's store figures ({@code info.CHUNK_COUNT}, {@code info.FILE_SIZE}, ...). */
    private long info(String name) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT SETTING_VALUE FROM INFORMATION_SCHEMA.SETTINGS WHERE SETTING_NAME = ?")) {
            s.setString(1, name);
            try (ResultSet rs = s.executeQuery()) {
                assertThat(rs.next()).as(name).isTrue();
                return Long.parseLong(rs.getString(1));
            }
        }
    }
}
