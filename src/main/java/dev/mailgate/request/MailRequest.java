package dev.mailgate.request;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * One mail to send, whatever channel it came from (outbox file, JMS, HTTP). Field names are the JSON
 * names documented in the README. Optional text fields are {@code null} when absent; lists and maps are
 * never {@code null}.
 *
 * @param rawMessage a complete RFC 5322 message (an {@code .eml} file) to transmit as it is; its
 *                   addresses are copied into the other fields so that one validator checks every request
 * @param rawRoot    the folder {@code rawMessage} was found inside; it is read only by a walk from there that follows
 *                   no link ({@link AttachmentRoot#open})
 */
public record MailRequest(
        String from,
        List<String> to,
        List<String> cc,
        List<String> bcc,
        List<String> replyTo,
        String subject,
        String text,
        String html,
        String template,
        Map<String, Object> data,
        List<Attachment> attachments,
        Map<String, String> headers,
        Priority priority,
        String idempotencyKey,
        Path rawMessage,
        Path rawRoot) {

    public enum Priority { HIGH, NORMAL, LOW }

    /** A request whose {@code .eml} file, if any, is trusted as far as its own folder (only its own name may not be a link). */
    public MailRequest(String from, List<String> to, List<String> cc, List<String> bcc, List<String> replyTo,
            String subject, String text, String html, String template, Map<String, Object> data,
            List<Attachment> attachments, Map<String, String> headers, Priority priority, String idempotencyKey,
            Path rawMessage) {
        this(from, to, cc, bcc, replyTo, subject, text, html, template, data, attachments, headers, priority,
                idempotencyKey, rawMessage, rawMessage == null ? null : parent(rawMessage));
    }

    public MailRequest {
        to = List.copyOf(to);
        cc = List.copyOf(cc);
        bcc = List.copyOf(bcc);
        replyTo = List.copyOf(replyTo);
        data = data == null ? Map.of() : data;
        attachments = List.copyOf(attachments);
        headers = Map.copyOf(headers);
        priority = priority == null ? Priority.NORMAL : priority;
    }

    private static Path parent(Path file) {
        return file.toAbsolutePath().normalize().getParent();
    }

    public int recipientCount() {
        return to.size() + cc.size() + bcc.size();
    }

    public boolean isRaw() {
        return rawMessage != null;
    }

    public MailRequest withSubject(String newSubject) {
        return new MailRequest(from, to, cc, bcc, replyTo, newSubject, text, html, template, data, attachments,
                headers, priority, idempotencyKey, rawMessage, rawRoot);
    }

    public MailRequest withFrom(String sender) {
        return new MailRequest(sender, to, cc, bcc, replyTo, subject, text, html, template, data, attachments,
                headers, priority, idempotencyKey, rawMessage, rawRoot);
    }

    /**
     * A file to attach: either on disk (already resolved inside its channel's root) or given inline as bytes.
     *
     * @param contentId when set, the part is an inline image the HTML refers to as {@code cid:<contentId>}
     * @param root      the folder {@code file} was found inside: it is read only by a walk from there that follows no
     *                  link ({@link AttachmentRoot#open}), so a file swapped for a link after the check is refused
     */
    public record Attachment(String filename, String contentType, String contentId, Path file, Path root,
            byte[] content) {

        /** A file checked inside {@code root} (by {@link AttachmentRoot#resolve}). */
        public static Attachment ofFile(Path root, Path file, String filename, String contentType, String contentId) {
            return new Attachment(filename, contentType, contentId, file, root, null);
        }

        /** A file Mailgate itself was given (a picked-up file, an upload, a command-line file): its folder is trusted. */
        public static Attachment ofFile(Path file, String filename, String contentType, String contentId) {
            return ofFile(parent(file), file, filename, contentType, contentId);
        }

        public static Attachment ofBytes(byte[] content, String filename, String contentType, String contentId) {
            return new Attachment(filename, contentType, contentId, null, null, content);
        }

        public boolean inline() {
            return contentId != null;
        }
    }
}
