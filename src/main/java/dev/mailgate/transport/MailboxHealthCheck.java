package dev.mailgate.transport;

import java.util.List;
import java.util.Map;

import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

import dev.mailgate.outcome.DeliveryLog;
import dev.mailgate.outcome.Journal;

/**
 * Health of the sending mailboxes: each one's state ({@code sending} or {@code held}, the circuit) with its last
 * success and failure; {@code DOWN} while any is held after an authentication failure, with the reason, the
 * server's reply, the fix and how many requests wait. Shown in the operator's report
 * ({@code /api/v1/health}), neither a liveness nor a readiness check: restarting Mailgate or taking it out of
 * service does not fix a tenant's configuration.
 */
public final class MailboxHealthCheck extends AbstractHealthCheck {

    public static final String ID = "mailboxes";

    private final MailboxPacing mailboxes;
    private final Journal journal;
    private final DeliveryLog activity;

    public MailboxHealthCheck(MailboxPacing mailboxes, Journal journal, DeliveryLog activity) {
        super("mailgate", ID);
        this.mailboxes = mailboxes;
        this.journal = journal;
        this.activity = activity;
    }

    @Override
    public boolean isLiveness() {
        return false;
    }

    /** Not a readiness check either: the gateway still takes and sends requests for every other mailbox. */
    @Override
    public boolean isReadiness() {
        return false;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        // every mailbox that has sent or failed: its state (sending or held) and its last success and failure
        activity.activity().forEach((mailbox, seen) -> {
            String prefix = "mailbox." + mailbox + ".";
            builder.detail(prefix + "state", "sending");
            if (seen.lastSuccess() != null) {
                builder.detail(prefix + "lastSuccess", seen.lastSuccess().toString());
            }
            if (seen.lastFailure() != null) {
                builder.detail(prefix + "lastFailure", seen.lastFailure().toString());
                builder.detail(prefix + "lastFailureReason", seen.lastFailureReason());
            }
        });
        List<MailboxPacing.Hold> holds = mailboxes.holds();
        if (holds.isEmpty()) {
            builder.up();
            return;
        }
        StringBuilder message = new StringBuilder();
        for (MailboxPacing.Hold hold : holds) {
            String prefix = "mailbox." + hold.mailbox() + ".";
            builder.detail(prefix + "state", "held");
            builder.detail(prefix + "since", hold.since().toString());
            builder.detail(prefix + "reason", hold.failure().reason());
            if (hold.failure().serverReply() != null) {
                builder.detail(prefix + "serverReply", hold.failure().serverReply());
            }
            builder.detail(prefix + "fix", hold.failure().advice());
            try {
                builder.detail(prefix + "waiting", journal.waiting(hold.mailbox()).size());
            } catch (RuntimeException e) {
                builder.detail(prefix + "waiting", "unknown (journal: " + e.getMessage() + ")");
            }
            message.append(message.isEmpty() ? "" : "; ").append("sending as ").append(hold.mailbox())
                    .append(" is held: ").append(hold.failure().reason());
        }
        builder.message(message.toString()).down();
    }
}
