package dev.mailgate.ops;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import dev.mailgate.auth.TokenCache;
import dev.mailgate.transport.MailboxPacing;

/**
 * Mailgate's metrics in Prometheus' text format ({@code GET /metrics}). The delivery counters and the send latency
 * come from {@link dev.mailgate.outcome.DeliveryLog}; this class adds what is read when scraped: token refreshes and
 * failures, queue depth, outbox backlog, held mailboxes, and the JVM's memory, threads and CPU.
 */
public final class Metrics {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    /** Series per meter beyond which further mailboxes are not recorded (a flood of made-up senders). */
    static final int MAX_MAILBOXES = 1000;

    public Metrics() {
        registry.config().meterFilter(MeterFilter.maximumAllowableTags("mailgate", "mailbox", MAX_MAILBOXES,
                MeterFilter.deny()));
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The current values, in Prometheus' text exposition format 0.0.4. */
    public String scrape() {
        return registry.scrape();
    }

    public void token(TokenCache tokens) {
        FunctionCounter.builder("mailgate.token.refreshes", tokens, TokenCache::fetchCount)
                .description("Token requests made to Entra ID").register(registry);
        FunctionCounter.builder("mailgate.token.failures", tokens, TokenCache::failureCount)
                .description("Token requests that got no token").register(registry);
        Gauge.builder("mailgate.token.remaining", tokens, t -> t.peek()
                .map(token -> Math.max(0, token.expiresAt().getEpochSecond() - Instant.now().getEpochSecond()))
                .orElse(0L)).description("Seconds the current access token is valid for").baseUnit("seconds")
                .register(registry);
    }

    /** Requests on the durable queue (scheduled retries included); -1 when it cannot be read. */
    public <T> void queueDepth(T broker, ToDoubleFunction<T> depth) {
        Gauge.builder("mailgate.queue.depth", broker, depth).description("Requests on the durable queue")
                .register(registry);
    }

    /** Files waiting in the outbox folder, and handed-off ones in its {@code .queued/} not yet sent. */
    public void outbox(Path dir) {
        Gauge.builder("mailgate.outbox.backlog", dir, d -> files(d)).description("Request files waiting in the outbox")
                .tag("folder", "outbox").register(registry);
        Gauge.builder("mailgate.outbox.backlog", dir, d -> files(d.resolve(".queued")))
                .description("Request files waiting in the outbox").tag("folder", "queued").register(registry);
    }

    public void mailboxes(MailboxPacing pacing) {
        Gauge.builder("mailgate.mailboxes.held", pacing, p -> p.holds().size())
                .description("Sending mailboxes held after an authentication failure").register(registry);
    }

    private static double files(Path dir) {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> list = Files.list(dir)) {
            return list.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("."))
                    .count();
        } catch (IOException e) {
            return -1;
        }
    }
}
