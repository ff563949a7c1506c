package dev.mailgate.compose;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.net.URLConnection;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Properties;

import jakarta.activation.DataHandler;
import jakarta.activation.DataSource;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Part;
import jakarta.mail.Session;
import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.internet.MimeUtility;
import jakarta.mail.util.ByteArrayDataSource;

import dev.mailgate.render.TemplateRenderer;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestValidator;

/**
 * Builds the MIME message for a validated {@link MailRequest}.
 * <pre>
 * multipart/mixed                 only when there are attachments
 *   multipart/related             only when there are inline images
 *     multipart/alternative       only when there are both text and HTML
 *       text/plain; text/html
 *     image/... (Content-ID)
 *   application/pdf ...           attachments, streamed from disk when written
 * </pre>
 * File attachments are never read into memory: they are opened when the message is composed (without following a
 * link, {@link AttachmentRoot#open}) and base64-encoded from the open file as the message is written to the server.
 * {@code .eml} requests are opened the same way, not rebuilt.
 */
public final class MimeComposer {

    private final TemplateRenderer renderer;
    private final Session session;

    public MimeComposer(TemplateRenderer renderer) {
        this.renderer = renderer;
        // MIME settings are read from system properties; the defaults (RFC 2231 file names) are what we want
        this.session = Session.getInstance(new Properties());
    }

    /** @param id the delivery id; it becomes the Message-ID's left part and the X-Mailgate-Id header */
    public OutgoingMessage compose(MailRequest request, String id) throws MessagingException, IOException {
        return compose(request, id, new InternetAddress(request.from()).getAddress());
    }

    /**
     * @param mailbox the mailbox that authenticates for the request's sender (itself, or one with Send As on it):
     *                the XOAUTH2 {@code user=}; the envelope sender and {@code From} stay the request's own
     */
    public OutgoingMessage compose(MailRequest request, String id, String mailbox)
            throws MessagingException, IOException {
        String from = new InternetAddress(request.from()).getAddress();
        if (request.isRaw()) {
            return raw(request, id, mailbox, from);
        }
        OutgoingMessage message = new OutgoingMessage(session, id, mailbox, from);
        try {
            build(message, request, id);
            return message;
        } catch (MessagingException | IOException | RuntimeException e) {
            try {
                message.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    private void build(OutgoingMessage message, MailRequest request, String id) throws MessagingException, IOException {
        message.setFrom(new InternetAddress(request.from()));
        message.setRecipients(Message.RecipientType.TO, addresses(request.to()));
        message.setRecipients(Message.RecipientType.CC, addresses(request.cc()));
        // Bcc recipients are envelope recipients only: the SMTP transport never writes the Bcc header
        message.setRecipients(Message.RecipientType.BCC, addresses(request.bcc()));
        if (!request.replyTo().isEmpty()) {
            message.setReplyTo(addresses(request.replyTo()));
        }
        String subject = request.subject();
        String text = request.text();
        String html = request.html();
        if (request.template() != null) {
            TemplateRenderer.Rendered rendered = renderer.render(request.template(), request.data());
            if (subject == null && rendered.subject() != null) {
                // rendered after validation, from the request's data: checked as the request's subject would be
                Optional<String> problem = MailRequestValidator.headerTextProblem(rendered.subject(), true);
                if (problem.isPresent()) {
                    throw new InvalidRequestException("data", "the subject the template '" + request.template()
                            + "' makes from it " + problem.get());
                }
            }
            subject = subject != null ? subject : rendered.subject();
            text = rendered.text();
            html = rendered.html();
        }
        message.setSubject(subject == null ? "" : subject, "UTF-8");
        message.setSentDate(new Date());
        priority(message, request.priority());
        for (var header : request.headers().entrySet()) {
            message.setHeader(header.getKey(), MimeUtility.fold(header.getKey().length() + 2,
                    MimeUtility.encodeText(header.getValue(), "UTF-8", null)));
        }
        message.setHeader("X-Mailgate-Id", id);
        setContent(message, attachments(message, request.attachments()), text, html);
        message.saveChanges();
    }

    /**
     * The attachments with their files opened now, through {@link AttachmentRoot#open} (no link followed from the
     * folder each was checked in), and read from these channels when the message is written: what was checked is
     * what is sent, and a file swapped for a link fails the request here, naming its field, before anything is sent.
     */
    private static List<Opened> attachments(OutgoingMessage message, List<MailRequest.Attachment> attachments) {
        List<Opened> result = new ArrayList<>();
        for (int i = 0; i < attachments.size(); i++) {
            MailRequest.Attachment a = attachments.get(i);
            FileChannel channel = null;
            if (a.file() != null) {
                channel = AttachmentRoot.open("attachments[" + i + "].path", a.root(), a.file());
                message.holds(channel);
            }
            result.add(new Opened(a, channel));
        }
        return result;
    }

    /** An attachment and, for a file, its open channel. */
    private record Opened(MailRequest.Attachment attachment, FileChannel channel) {
        boolean inline() {
            return attachment.inline();
        }
    }

    private OutgoingMessage raw(MailRequest request, String id, String mailbox, String from)
            throws MessagingException, IOException {
        FileChannel file = AttachmentRoot.open("rawMessage", request.rawRoot(), request.rawMessage());
        InputStream in = OpenedFile.shared(file);
        try {
            OutgoingMessage message = new OutgoingMessage(session, in, id, mailbox, from);
            message.holds(file);
            // the minimum an MTA adds to a message that lacks it; the body stays byte for byte as it was
            if (message.getHeader("From") == null) {
                message.setFrom(new InternetAddress(request.from()));
            }
            if (message.getHeader("Date") == null) {
                message.setSentDate(new Date());
            }
            message.ensureMessageId();
            message.dropForeignTraceAndResentBcc();
            message.setHeader("X-Mailgate-Id", id);
            return message;
        } catch (MessagingException | RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static void setContent(OutgoingMessage message, List<Opened> attachments, String text,
            String html) throws MessagingException {
        List<Opened> inline = attachments.stream().filter(Opened::inline).toList();
        List<Opened> files = attachments.stream().filter(a -> !a.inline()).toList();
        if (inline.isEmpty() && files.isEmpty()) {
            if (text != null && html != null) {
                message.setContent(alternative(text, html));
            } else if (html != null) {
                message.setText(html, "UTF-8", "html");
            } else {
                message.setText(text == null ? "" : text, "UTF-8", "plain");
            }
            return;
        }
        MimeBodyPart body = body(text, html);
        if (!inline.isEmpty()) {
            MimeMultipart related = new MimeMultipart("related");
            if (body != null) {
                related.addBodyPart(body);
            }
            for (Opened a : inline) {
                related.addBodyPart(attachment(a));
            }
            if (files.isEmpty()) {
                message.setContent(related);
                return;
            }
            body = wrap(related);
        }
        MimeMultipart mixed = new MimeMultipart("mixed");
        if (body != null) {
            mixed.addBodyPart(body);
        }
        for (Opened a : files) {
            mixed.addBodyPart(attachment(a));
        }
        message.setContent(mixed);
    }

    /** The body as one part: text, HTML, or both as multipart/alternative; {@code null} when there is none. */
    private static MimeBodyPart body(String text, String html) throws MessagingException {
        if (text != null && html != null) {
            return wrap(alternative(text, html));
        }
        if (text == null && html == null) {
            return null;
        }
        MimeBodyPart part = new MimeBodyPart();
        part.setText(text != null ? text : html, "UTF-8", text != null ? "plain" : "html");
        return part;
    }

    private static MimeMultipart alternative(String text, String html) throws MessagingException {
        MimeBodyPart textPart = new MimeBodyPart();
        textPart.setText(text, "UTF-8", "plain");
        MimeBodyPart htmlPart = new MimeBodyPart();
        htmlPart.setText(html, "UTF-8", "html");
        return new MimeMultipart("alternative", textPart, htmlPart);
    }

    private static MimeBodyPart wrap(MimeMultipart multipart) throws MessagingException {
        MimeBodyPart part = new MimeBodyPart();
        part.setContent(multipart);
        return part;
    }

    private static MimeBodyPart attachment(Opened opened) throws MessagingException {
        MailRequest.Attachment a = opened.attachment();
        String type = a.contentType() != null ? a.contentType() : guessType(a.filename());
        DataSource source = opened.channel() != null ? OpenedFile.dataSource(opened.channel(), a.filename(), type)
                : new ByteArrayDataSource(a.content(), type);
        MimeBodyPart part = new MimeBodyPart();
        part.setDataHandler(new DataHandler(source));
        part.setFileName(a.filename());
        if (a.inline()) {
            part.setDisposition(Part.INLINE);
            part.setContentID("<" + a.contentId() + ">");
        } else {
            part.setDisposition(Part.ATTACHMENT);
        }
        // decided up front: otherwise saveChanges() reads the whole file once just to choose an encoding
        part.setHeader("Content-Transfer-Encoding", "base64");
        return part;
    }

    static String guessType(String filename) {
        String lower = filename.toLowerCase(Locale.ROOT);
        String type = URLConnection.getFileNameMap().getContentTypeFor(lower);
        if (type != null) {
            return type;
        }
        if (lower.endsWith(".csv")) {
            return "text/csv";
        }
        if (lower.endsWith(".json")) {
            return "application/json";
        }
        if (lower.endsWith(".docx")) {
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        }
        if (lower.endsWith(".xlsx")) {
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        }
        return "application/octet-stream";
    }

    private static InternetAddress[] addresses(List<String> values) throws AddressException {
        InternetAddress[] result = new InternetAddress[values.size()];
        for (int i = 0; i < result.length; i++) {
            result[i] = new InternetAddress(values.get(i));
        }
        return result;
    }

    private static void priority(OutgoingMessage message, MailRequest.Priority priority) throws MessagingException {
        switch (priority) {
            case HIGH -> {
                message.setHeader("X-Priority", "1 (Highest)");
                message.setHeader("Importance", "high");
            }
            case LOW -> {
                message.setHeader("X-Priority", "5 (Lowest)");
                message.setHeader("Importance", "low");
            }
            default -> {
                // normal: no header, as mail clients do
            }
        }
    }
}
