package dev.mailgate.outcome;

import java.util.List;

import dev.mailgate.request.Problem;
import dev.mailgate.text.Text;

/**
 * Why a request was not sent, in the terms an operator acts on.
 *
 * @param reason      what happened, in one line
 * @param advice      what to do about it
 * @param serverReply the SMTP server's reply, when there was one
 * @param problems    for invalid requests, every field problem
 */
public record Failure(Category category, String reason, String advice, String serverReply, List<Problem> problems) {

    public enum Category {
        /** The request itself is wrong; sending it again unchanged fails again. */
        INVALID_REQUEST("invalid-request", false),
        /** Connection trouble, a busy server, Entra ID unreachable: worth retrying. */
        TRANSIENT("transient", true),
        /** The mailbox's sending quota is used up; it frees itself over 24 hours. */
        QUOTA("quota", true),
        /** Entra ID or the SMTP server refused the app's credentials even after a fresh token. */
        AUTH("auth", false),
        /**
         * The sending mailbox is over its storage quota: Exchange Online saves every SMTP submission to its Sent Items
         * and refuses to submit while it cannot ({@code 554 5.2.2 ... QuotaExceededException}). Not about the
         * message: the mailbox is held until it has room again.
         */
        MAILBOX_FULL("mailbox-full", false),
        /**
         * Exchange Online blocked the sending mailbox for outbound spam ({@code 5.1.8}, {@code 5.7.501}-{@code 503})
         * until an admin releases it: held like a full mailbox, and tested again with one request at a time.
         */
        SENDER_BLOCKED("sender-blocked", false),
        /** Mailgate's own settings or the server's TLS do not allow sending safely. */
        CONFIGURATION("configuration", false),
        /** The server refused this message for good (unknown recipient, too large, not allowed to send as). */
        PERMANENT("permanent", false);

        private final String label;
        private final boolean retryable;

        Category(String label, boolean retryable) {
            this.label = label;
            this.retryable = retryable;
        }

        public String label() {
            return label;
        }

        public boolean retryable() {
            return retryable;
        }

        /**
         * A failure of the sending mailbox rather than of the message: sending as it stops (it is held) and its
         * requests stay pending until it can send again.
         */
        public boolean holdsMailbox() {
            return this == AUTH || this == MAILBOX_FULL || this == SENDER_BLOCKED;
        }

        /**
         * A hold that only a real submission can test (AUTH and MAIL FROM may pass while Exchange still refuses the
         * message): lifted by a trial request, not by an AUTH probe.
         */
        public boolean liftedByTrial() {
            return this == MAILBOX_FULL || this == SENDER_BLOCKED;
        }
    }

    public Failure {
        // reasons quote what was refused (a header, a file name): they must not forge lines where they are shown
        reason = Text.printable(reason);
        problems = problems == null ? List.of() : List.copyOf(problems);
    }

    public Failure(Category category, String reason, String advice) {
        this(category, reason, advice, null, List.of());
    }

    public boolean retryable() {
        return category.retryable();
    }

    /**
     * This failure with the placeholders of its advice filled in: {@code <mailbox>} (the authenticating mailbox),
     * {@code <from address>} (the request's sender; the mailbox when {@code from} is null) and {@code <client id>}.
     * What is not known (null) stays a placeholder.
     */
    public Failure filled(String mailbox, String from, String clientId) {
        if (advice == null) {
            return this;
        }
        String filled = advice;
        if (mailbox != null) {
            filled = filled.replace("<mailbox>", mailbox).replace("<from address>", from != null ? from : mailbox);
        }
        if (clientId != null && !clientId.isBlank()) {
            filled = filled.replace("<client id>", clientId);
        }
        return filled.equals(advice) ? this : new Failure(category, reason, filled, serverReply, problems);
    }
}
