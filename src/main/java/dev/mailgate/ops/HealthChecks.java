package dev.mailgate.ops;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.function.BiConsumer;

import org.apache.camel.CamelContext;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

import dev.mailgate.auth.AccessToken;
import dev.mailgate.auth.TokenCache;
import dev.mailgate.auth.TokenException;
import dev.mailgate.channel.outbox.OutboxBacklog;
import dev.mailgate.channel.outbox.OutboxWatch;
import dev.mailgate.outcome.Journal;
import dev.mailgate.text.Text;

/**
 * Mailgate's health checks, in Camel's health registry ({@code /api/v1/health} shows them all with their details;
 * {@code /health/live} and {@code /health/ready} ask the liveness and readiness ones):
 * <ul>
 * <li>{@code gateway}: the mode (sandbox or not) and the SMTP server, always up; liveness;</li>
 * <li>{@code token}: valid until, last refresh, last error; down while no token can be had (neither liveness nor
 * readiness: restarting does not fix a tenant);</li>
 * <li>{@code journal}, {@code broker}, {@code outbox}: what taking requests needs; readiness. {@code outbox} is also
 * down while a watched folder's consumer has stopped working ({@code mailgate.outbox.stalled-after});</li>
 * <li>{@code outbox-backlog}: what waits in each watched folder; down while a file has waited longer than
 * {@code mailgate.outbox.stalled-after} (neither liveness nor readiness).</li>
 * </ul>
 * The sending mailboxes have their own check ({@link dev.mailgate.transport.MailboxHealthCheck}).
 */
public final class HealthChecks {

    /** A connection to the broker can be made (throws when not). */
    @FunctionalInterface
    public interface BrokerPing {
        void ping() throws Exception;
    }

    private HealthChecks() {
    }

    public static void register(CamelContext context, boolean sandbox, String smtpServer, TokenCache tokens,
            Journal journal, BrokerPing broker, Path outbox, OutboxWatch watch) {
        bind(context, new Check("gateway", true, false, (b, o) -> b.detail("sandbox", sandbox)
                .detail("smtpServer", smtpServer).up()));
        bind(context, new Check("token", false, false, (b, o) -> token(b, tokens)));
        bind(context, new Check("journal", false, true, (b, o) -> {
            try {
                journal.check();
                b.up();
            } catch (RuntimeException e) {
                b.message(Text.oneLine(e.getMessage())).detail("fix", "check mailgate.journal.url and that its "
                        + "database runs").down();
            }
        }));
        bind(context, new Check("broker", false, true, (b, o) -> {
            try {
                broker.ping();
                b.up();
            } catch (Exception e) {
                b.message("the JMS broker cannot be reached: " + Text.oneLine(e.getMessage()))
                        .detail("fix", "check mailgate.jms.url (or the embedded broker's log)").down();
            }
        }));
        bind(context, new Check("outbox", false, true, (b, o) -> outbox(b, outbox, watch)));
        bind(context, new Check("outbox-backlog", false, false, (b, o) -> backlog(b, outbox, watch)));
    }

    /**
     * The outbox folder is there and writable, and every watched folder's consumer is still at work: one that has
     * neither begun a poll nor taken a file for {@code mailgate.outbox.stalled-after} has a thread that hangs, and the
     * gateway should not look ready while requests pile up behind it. A file that waits (see {@link #backlog}) does
     * not count here: anyone who may write to a folder could make one wait, and must not take the whole gateway,
     * HTTP API included, out of a load balancer's rotation.
     */
    private static void outbox(HealthCheckResultBuilder b, Path outbox, OutboxWatch watch) {
        b.detail("dir", outbox.toAbsolutePath().toString());
        if (!Files.isDirectory(outbox) || !Files.isWritable(outbox)) {
            b.message("the outbox folder " + outbox.toAbsolutePath() + " is missing or not writable")
                    .detail("fix", "create it and let the user running Mailgate write to it "
                            + "(mailgate.outbox.dir)").down();
            return;
        }
        Map<Path, Instant> silent = watch.silentFolders();
        if (silent.isEmpty()) {
            b.up();
            return;
        }
        Map.Entry<Path, Instant> first = silent.entrySet().iterator().next();
        b.message("the channel of " + name(outbox, first.getKey()) + " has not looked at its folder since "
                + first.getValue() + " (mailgate.outbox.stalled-after=" + watch.stalledAfter().toSeconds() + " s): its "
                + "thread hangs, or its route was stopped")
                .detail("fix", "look for the outbox thread in a thread dump (jstack) and for errors in the log; a "
                        + "restart takes the files up again").down();
    }

    /**
     * What waits in each watched folder, and whether a file has waited longer than {@code mailgate.outbox.stalled-after}:
     * then this check is down, naming the file and what may hold it. Shown in {@code /api/v1/health} (which then
     * answers {@code 503}) for monitoring; neither liveness nor readiness.
     */
    private static void backlog(HealthCheckResultBuilder b, Path outbox, OutboxWatch watch) {
        OutboxBacklog late = null;
        for (OutboxBacklog backlog : watch.backlog()) {
            String folder = name(outbox, backlog.folder());
            b.detail(folder + ".waiting", backlog.waiting());
            backlog.oldest().ifPresent(w -> b.detail(folder + ".oldestWaiting", w.name())
                    .detail(folder + ".oldestWaitingSeconds", w.age().toSeconds()));
            if (late == null && backlog.oldest().map(w -> w.age().compareTo(watch.stalledAfter()) > 0).orElse(false)) {
                late = backlog;
            }
        }
        if (late == null) {
            b.up();
            return;
        }
        OutboxBacklog.Waiting oldest = late.oldest().orElseThrow();
        b.message(name(outbox, late.folder()) + "/" + oldest.name() + " has waited " + oldest.age().toSeconds()
                + " s without being taken (mailgate.outbox.stalled-after=" + watch.stalledAfter().toSeconds() + " s)")
                .detail("fix", oldest.hint()).down();
    }

    /** A watched folder as the operator knows it: {@code outbox}, {@code outbox/reports}. */
    private static String name(Path outbox, Path folder) {
        Path base = outbox.toAbsolutePath().normalize().getParent();
        Path absolute = folder.toAbsolutePath().normalize();
        return (base != null && absolute.startsWith(base) ? base.relativize(absolute) : absolute).toString()
                .replace('\\', '/');
    }

    private static void token(HealthCheckResultBuilder builder, TokenCache tokens) {
        Instant now = Instant.now();
        tokens.lastRefresh().ifPresent(at -> builder.detail("lastRefresh", at.toString()));
        builder.detail("refreshes", tokens.fetchCount()).detail("failures", tokens.failureCount());
        AccessToken token = tokens.peek().orElse(null);
        if (token != null) {
            builder.detail("validUntil", token.expiresAt().toString());
        }
        TokenException failure = tokens.lastFailure().orElse(null);
        if (failure != null) {
            builder.detail("lastError", failure.getMessage());
            if (failure.advice() != null) {
                builder.detail("fix", failure.advice());
            }
        }
        if (failure != null && (token == null || !token.expiresAt().isAfter(now))) {
            builder.message("no access token: " + failure.getMessage()).down();
        } else {
            builder.up();
        }
    }

    private static void bind(CamelContext context, Check check) {
        check.setCamelContext(context);
        context.getRegistry().bind(check.getId() + "-health-check", check);
    }

    /** A check from a function. */
    private static final class Check extends AbstractHealthCheck {
        private final boolean liveness;
        private final boolean readiness;
        private final BiConsumer<HealthCheckResultBuilder, Map<String, Object>> body;

        Check(String id, boolean liveness, boolean readiness,
                BiConsumer<HealthCheckResultBuilder, Map<String, Object>> body) {
            super("mailgate", id);
            this.liveness = liveness;
            this.readiness = readiness;
            this.body = body;
        }

        @Override
        public boolean isLiveness() {
            return liveness;
        }

        @Override
        public boolean isReadiness() {
            return readiness;
        }

        @Override
        protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
            body.accept(builder, options);
        }
    }
}
