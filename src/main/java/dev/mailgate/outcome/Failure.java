package dev.mailgate.outcome;

import java.util.List;

import dev.mailgate.Text;
import dev.mailgate.request.Problem;

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
            return this == AUTH || this == MAILBOX_FULL;
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
}
