package dev.mailgate.compose;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.mail.MessagingException;
import jakarta.mail.Session;

import org.eclipse.angus.mail.smtp.SMTPMessage;

/**
 * A MIME message on its way out, with what the sending path needs besides the bytes: the delivery id,
 * the mailbox to authenticate as (the request's sender, or a mailbox with Send As on it: the envelope sender stays
 * the request's), and, once sent, the server's reply.
 * A raw message (an {@code .eml} file) keeps its body on disk and is written to the server unchanged.
 */
public final class OutgoingMessage extends SMTPMessage implements AutoCloseable {

    /** Never written: their addresses would be disclosed to every recipient. */
    private static final String[] BLIND_COPIES = {"Bcc", "Resent-Bcc"};

    private final String id;
    private final String mailbox;
    private final InputStream source;
    /** Files opened for this message (attachments, the {@code .eml}), read from when it is written, closed with it. */
    private final List<Closeable> opened = new CopyOnWriteArrayList<>();
    private volatile String serverReply;
    /** How often the message was written out (to a server after its {@code 354}, or anywhere else). */
    private final AtomicInteger writes = new AtomicInteger();

    /** A message to be built part by part, sent as {@code from} by {@code mailbox}. */
    OutgoingMessage(Session session, String id, String mailbox, String from) {
        super(session);
        this.id = id;
        this.mailbox = mailbox;
        this.source = null;
        setEnvelopeFrom(from);
    }

    /** A complete message read from {@code in} (a {@code SharedInputStream}, so the body is not copied). */
    OutgoingMessage(Session session, InputStream in, String id, String mailbox, String from)
            throws MessagingException {
        super(session, in);
        this.id = id;
        this.mailbox = mailbox;
        this.source = in;
        setEnvelopeFrom(from);
    }

    public String id() {
        return id;
    }

    /** The mailbox the SASL XOAUTH2 {@code user=} names; pacing and daily limits count against it. */
    public String mailbox() {
        return mailbox;
    }

    /** The server's reply to the end of DATA, e.g. {@code 250 2.0.0 OK <id> [Hostname=...]}. */
    public String serverReply() {
        return serverReply;
    }

    public void accepted(String reply) {
        this.serverReply = reply;
    }

    /** Keeps a Message-ID that is already there (an .eml's own, or one set earlier) instead of replacing it. */
    @Override
    protected void updateMessageID() throws MessagingException {
        if (getHeader("Message-ID") == null) {
            setHeader("Message-ID", "<" + id + "@" + domainOf(mailbox) + ">");
        }
    }

    public void ensureMessageId() throws MessagingException {
        updateMessageID();
    }

    /**
     * How many times the message has been written out so far. A send that failed with this unchanged never reached
     * {@code DATA}'s content, so the server cannot have accepted it.
     */
    public int writes() {
        return writes.get();
    }

    /**
     * Writes the message without its blind-copy headers, whoever writes it (the SMTP transport, which leaves out
     * {@code Bcc} only, or the sandbox's copy): {@code Bcc} and {@code Resent-Bcc}, matched by name in any case, with
     * their continuation lines. A Bcc header still counts for the envelope ({@link #getAllRecipients()}).
     */
    @Override
    public void writeTo(OutputStream out, String[] ignoreList) throws IOException, MessagingException {
        writes.incrementAndGet();
        List<String> ignore = new ArrayList<>(List.of(BLIND_COPIES));
        if (ignoreList != null) {
            ignore.addAll(List.of(ignoreList));
        }
        super.writeTo(out, ignore.toArray(String[]::new));
    }

    /**
     * Takes out what a ready message must not bring along: {@code Resent-Bcc} (its addresses are not recipients:
     * Mailgate sends a message to its To, Cc and Bcc) and every {@code X-Mailgate-*} header, Mailgate's own trace,
     * which only Mailgate writes.
     */
    void dropForeignTraceAndResentBcc() throws MessagingException {
        removeHeader("Resent-Bcc");
        List<String> ours = new ArrayList<>();
        for (var headers = getAllHeaders(); headers.hasMoreElements();) {
            String name = headers.nextElement().getName();
            if (name.regionMatches(true, 0, "X-Mailgate-", 0, 11)) {
                ours.add(name);
            }
        }
        for (String name : ours) {
            removeHeader(name);
        }
    }

    /** Keeps {@code file} open until the message is closed: the message is written from it. */
    void holds(Closeable file) {
        opened.add(file);
    }

    @Override
    public void close() throws IOException {
        IOException failed = null;
        List<Closeable> all = new ArrayList<>(opened);
        if (source != null) {
            all.add(0, source);
        }
        for (Closeable c : all) {
            try {
                c.close();
            } catch (IOException e) {
                failed = e;
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    private static String domainOf(String address) {
        int at = address.lastIndexOf('@');
        return at < 0 ? "mailgate.invalid" : address.substring(at + 1);
    }
}
