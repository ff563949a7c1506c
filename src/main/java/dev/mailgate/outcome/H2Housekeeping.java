package dev.mailgate.outcome;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import javax.sql.DataSource;

import org.apache.camel.support.service.ServiceSupport;
import org.h2.engine.SessionLocal;
import org.h2.jdbc.JdbcConnection;
import org.h2.mvstore.MVStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compacts the embedded H2 journal while Mailgate runs, which H2 does not do by itself with {@code WRITE_DELAY=0}.
 * <p>
 * The default journal URL has {@code WRITE_DELAY=0}, so that every commit is in the file before the request takes
 * its next step. H2 then starts no background writer, and that thread is also the only one that rewrites partly used
 * chunks: each commit writes a chunk of its own, and a chunk that still holds one live page is never freed. The
 * chunks piled up for as long as the process ran, about 0.7 per message, each with its bookkeeping on the heap and
 * tens of KB of file (667 MB after 10,000 messages; h2database issue #442: "call compact yourself"). Every second
 * this does what the background writer would: when the chunks are less full than H2's {@value #FILL_RATE} % target,
 * the live pages of the emptiest ones are rewritten into a new commit, and the emptied chunks are freed (after H2's
 * retention time, 45 s).
 */
public final class H2Housekeeping extends ServiceSupport {

    /** H2's default {@code AUTO_COMPACT_FILL_RATE}. */
    static final int FILL_RATE = 90;
    /** Live data rewritten in one pass at most: a sparse chunk holds a few KB, so a pass frees hundreds. */
    private static final int WRITE_LIMIT = 1024 * 1024;
    /** How often: a pass with nothing to rewrite costs a look at the chunks' fill rates. */
    private static final Duration INTERVAL = Duration.ofSeconds(1);

    private static final Logger LOG = LoggerFactory.getLogger(H2Housekeeping.class);

    private final DataSource dataSource;
    private final ScheduledExecutorService executor;

    public H2Housekeeping(DataSource dataSource, ScheduledExecutorService executor) {
        this.dataSource = dataSource;
        this.executor = executor;
    }

    /**
     * Whether {@code dataSource} needs it: an embedded H2 database that commits without a write delay (not
     * PostgreSQL, an H2 server, or an H2 URL that leaves H2's background writer on).
     */
    public static boolean needed(DataSource dataSource) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            MVStore store = store(c);
            return store != null && store.getAutoCommitDelay() == 0;
        }
    }

    @Override
    protected void doStart() {
        long millis = INTERVAL.toMillis();
        executor.scheduleWithFixedDelay(this::quietly, millis, millis, TimeUnit.MILLISECONDS);
    }

    @Override
    protected void doStop() {
        executor.shutdownNow();
    }

    /** One pass; returns whether chunks were rewritten. */
    public boolean compact() throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            MVStore store = store(c);
            if (store == null || !store.compact(FILL_RATE, WRITE_LIMIT)) {
                return false;
            }
            // the rewritten pages are written out now, not with whatever commit comes next
            store.commit();
            return true;
        }
    }

    private void quietly() {
        try {
            compact();
        } catch (SQLException | RuntimeException e) {
            // the database is closing, or failed: the journal reports that where it matters
            LOG.debug("Compacting the journal failed: {}", e.toString());
        }
    }

    /** The MVStore behind an embedded H2 connection, or {@code null} for any other database. */
    private static MVStore store(Connection c) throws SQLException {
        if (!c.isWrapperFor(JdbcConnection.class)
                || !(c.unwrap(JdbcConnection.class).getSession() instanceof SessionLocal session)) {
            return null;
        }
        MVStore store = session.getDatabase().getStore().getMvStore();
        return store.getFileStore() == null ? null : store;
    }
}
