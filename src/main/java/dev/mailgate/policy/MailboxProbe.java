package dev.mailgate.policy;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.outcome.Failure;
import dev.mailgate.policy.FailureClassifier;
import dev.mailgate.transport.MailboxPacing;
import dev.mailgate.transport.XOAuth2MailSender;

/**
 * Every {@code mailgate.delivery.auth-probe-interval}, tries to authenticate as each held mailbox and to offer it
 * as the sender (connect, STARTTLS, AUTH XOAUTH2 without a fresh-token retry, MAIL FROM, RSET, QUIT: nothing is
 * sent). When that works, the mailbox sends again and its pending
 * requests go out as they come back from the queue; when it does not, the hold keeps the latest reason. A mailbox
 * held because it is full passes all of that; it is let through with one request as a trial instead
 * ({@link MailboxPacing#allowTrial}), and the first message Exchange accepts lifts the hold.
 */
public final class MailboxProbe extends ServiceSupport {

    private static final Logger LOG = LoggerFactory.getLogger(MailboxProbe.class);

    private final MailboxPacing mailboxes;
    private final XOAuth2MailSender sender;
    private final FailureClassifier classifier;
    private final Duration interval;
    private final ScheduledExecutorService executor;

    private final String clientId;

    /** @param clientId the app's client id, filled into the advice of a changed hold ({@code <client id>}) */
    public MailboxProbe(MailboxPacing mailboxes, XOAuth2MailSender sender, FailureClassifier classifier,
            Duration interval, ScheduledExecutorService executor, String clientId) {
        this.clientId = clientId;
        this.mailboxes = mailboxes;
        this.sender = sender;
        this.classifier = classifier;
        this.interval = interval;
        this.executor = executor;
    }

    @Override
    protected void doStart() {
        long millis = interval.toMillis();
        executor.scheduleWithFixedDelay(this::probeAll, millis, millis, TimeUnit.MILLISECONDS);
    }

    @Override
    protected void doStop() {
        executor.shutdownNow();
    }

    /** One round over the held mailboxes. */
    public void probeAll() {
        for (MailboxPacing.Hold hold : mailboxes.holds()) {
            if (hold.failure().category().liftedByTrial()) {
                // AUTH and MAIL FROM pass with a full or blocked mailbox: only a real submission shows it is fixed
                mailboxes.allowTrial(hold.mailbox());
                LOG.debug("{} is held ({}): one request may go through as a trial", hold.mailbox(),
                        hold.failure().reason());
                continue;
            }
            try {
                sender.probe(hold.mailbox());
                mailboxes.resume(hold.mailbox());
                LOG.info("Authenticated as {} again: sending resumes (held since {})", hold.mailbox(),
                        hold.since());
            } catch (Exception | Error e) {
                // an Error must not end the scheduled task: held mailboxes would never resume
                Failure failure = classifier.classify(e).filled(hold.mailbox(), null, clientId);
                if (failure.category() != Failure.Category.TRANSIENT) {
                    // still refused, perhaps for another reason now (SendAsDenied once SMTP AUTH works): show it
                    if (!failure.reason().equals(hold.failure().reason())) {
                        LOG.warn("{} is still held: {}{}. Fix: {}", hold.mailbox(), failure.reason(),
                                failure.serverReply() == null ? "" : " (server said: " + failure.serverReply() + ")",
                                failure.advice());
                    }
                    mailboxes.hold(hold.mailbox(), failure);
                } else {
                    // the server or Entra ID is not reachable now: that says nothing about the fault; try again
                    LOG.debug("Probing {} failed ({}: {}); trying again in {}", hold.mailbox(),
                            failure.category().label(), failure.reason(), interval);
                }
            }
        }
    }
}
