package dev.mailgate.outcome;

import java.time.Instant;

/**
 * Proof that the SMTP server accepted a message.
 *
 * @param server   host:port the message was handed to
 * @param attempts how many tries it took (1 when the first one worked)
 * @param sandbox  true when the server was Mailgate's embedded sandbox: nothing left the machine
 */
public record Receipt(String id, String messageId, String mailbox, int recipients, String serverReply,
        Instant sentAt, String server, int attempts, boolean sandbox) {
}
