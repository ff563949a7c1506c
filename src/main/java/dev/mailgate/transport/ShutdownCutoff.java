package dev.mailgate.transport;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.apache.camel.CamelContext;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.support.SimpleEventNotifierSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds a graceful stop. Camel stops taking new requests and waits for the ones in progress; sends still going
 * after {@code mailgate.delivery.shutdown-timeout} have their connections cut, fail as transient, and stay pending
 * (back on the queue, or rolled back onto it). Camel's own shutdown timeout is set a little longer, so that those
 * requests get their outcome recorded before it forces the routes down.
 */
public final class ShutdownCutoff extends SimpleEventNotifierSupport {

    /** Time left after the cut for the failed sends to be put back on the queue. */
    static final Duration AFTER_CUT = Duration.ofSeconds(10);

    private static final Logger LOG = LoggerFactory.getLogger(ShutdownCutoff.class);

    private final CamelContext context;
    private final XOAuth2MailSender sender;
    private final Duration timeout;

    public ShutdownCutoff(CamelContext context, XOAuth2MailSender sender, Duration timeout) {
        this.context = context;
        this.sender = sender;
        this.timeout = timeout;
    }

    @Override
    public boolean isEnabled(CamelEvent event) {
        return event instanceof CamelEvent.CamelContextStoppingEvent;
    }

    @Override
    public void notify(CamelEvent event) {
        context.getShutdownStrategy().setTimeUnit(TimeUnit.MILLISECONDS);
        context.getShutdownStrategy().setTimeout(timeout.plus(AFTER_CUT).toMillis());
        CompletableFuture.delayedExecutor(timeout.toMillis(), TimeUnit.MILLISECONDS).execute(() -> {
            if (!context.isStopped()) {
                int cut = sender.cutShort();
                if (cut > 0) {
                    LOG.warn("Stopping: cut {} send(s) still in progress after {} (mailgate.delivery.shutdown-timeout);"
                            + " they stay pending and are sent when Mailgate runs again", cut, timeout);
                }
            }
        });
    }
}
