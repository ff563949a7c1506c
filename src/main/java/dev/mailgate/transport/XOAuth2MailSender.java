package dev.mailgate.transport;

import static dev.mailgate.Text.oneLine;

import java.time.Duration;
import java.util.Date;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;

import org.apache.camel.component.mail.DefaultJavaMailSender;
import org.apache.camel.component.mail.JavaMailSender;
import org.eclipse.angus.mail.smtp.SMTPSenderFailedException;
import org.eclipse.angus.mail.smtp.SMTPTransport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.auth.AccessToken;
import dev.mailgate.auth.TokenException;
import dev.mailgate.auth.XOAuth2Authenticator;
import dev.mailgate.compose.OutgoingMessage;

/**
 * The {@link JavaMailSender} behind camel-mail's {@code smtp} endpoint ({@code javaMailSender=#mailgateSender}).
 * Compared with camel-mail's default sender it
 * <ul>
 * <li>authenticates as the message's own sending mailbox, with a token from the endpoint's
 * {@link XOAuth2Authenticator};</li>
 * <li>when the server rejects the token ({@code 535}, or a Gmail-style {@code 334 <json>}), drops it, gets a
 * fresh one and tries once more; a second rejection is a configuration fault. A token that works for other
 * mailboxes but is refused for this one is kept: the refusal is about the mailbox's permissions;</li>
 * <li>refuses servers that do not offer {@code AUTH XOAUTH2} after STARTTLS, instead of silently sending
 * unauthenticated;</li>
 * <li>records the server's reply to the message ({@code 250 ...}) for the receipt;</li>
 * <li>leaves {@code .eml} messages as they are (no {@code saveChanges()});</li>
 * <li>keeps authenticated connections per mailbox for the next messages ({@link ConnectionPool}) instead of a new
 * TLS handshake and {@code AUTH} for every message; a connection that failed in any way is closed.</li>
 * </ul>
 */
public class XOAuth2MailSender extends DefaultJavaMailSender {

    private static final Logger LOG = LoggerFactory.getLogger(XOAuth2MailSender.class);

    /** Angus Mail's message when the server offers AUTH but none of the configured mechanisms. */
    private static final String NO_COMMON_MECHANISM = "No authentication mechanisms supported";

    private final TrackedSockets sockets = new TrackedSockets();
    /** Authenticated connections kept for the next message, or {@code null}: one connection per message. */
    private final ConnectionPool pool;
    private volatile boolean cuttingShort;
    private volatile Session connectSession;
    /** The last token a server accepted, and for which mailboxes. */
    private volatile TokenUse lastAccepted;

    private record TokenUse(String token, Set<String> mailboxes) {
    }

    /** A connection authenticated as a mailbox, and the token it used. */
    private record Connected(SMTPTransport transport, String token) {
    }

    /** One connection per message (what camel-mail's own sender does): one-shot use, tests. */
    public XOAuth2MailSender() {
        this.pool = null;
    }

    /**
     * Keeps up to {@code perMailbox} authenticated connections per mailbox for the next messages (see
     * {@link ConnectionPool}).
     */
    public XOAuth2MailSender(int perMailbox, Duration idleTimeout, Duration validateAfter) {
        this.pool = new ConnectionPool(perMailbox, idleTimeout, validateAfter);
    }

    @Override
    public void send(MimeMessage message) throws MessagingException {
        OutgoingMessage outgoing = message instanceof OutgoingMessage o ? o : null;
        String mailbox = outgoing != null ? outgoing.mailbox() : authenticator().defaultMailbox();
        if (outgoing == null) {
            prepare(message);
        }
        if (cuttingShort) {
            throw new SendCutShortException(null);
        }
        Connected connection = connection(mailbox);
        SMTPTransport transport = connection.transport();
        String reply;
        boolean reusable = false;
        try {
            transport.sendMessage(message, message.getAllRecipients());
            // the reply to the message itself, before QUIT replaces it
            reply = oneLine(transport.getLastServerResponse());
            reusable = true;
        } catch (MessagingException e) {
            throw cuttingShort ? new SendCutShortException(e) : e;
        } finally {
            if (reusable && pool != null && !cuttingShort) {
                pool.give(mailbox, transport, connection.token());
            } else {
                // any failure: the connection's state is unknown, so it is not used again
                close(transport);
            }
        }
        if (outgoing != null) {
            outgoing.accepted(reply);
        }
        LOG.debug("{}:{} accepted {} for {} recipient(s): {}", getHost(), getPort(), message.getMessageID(),
                message.getAllRecipients().length, reply);
    }

    /** An idle connection of the mailbox that still uses the current token, or a new one. */
    private Connected connection(String mailbox) throws MessagingException {
        if (pool != null) {
            String token = token(authenticator()).value();
            SMTPTransport idle = pool.take(mailbox, token);
            if (idle != null) {
                return new Connected(idle, token);
            }
        }
        return authenticated(mailbox, true);
    }

    /** Authenticated connections kept for the next messages now, over all mailboxes. */
    public int idleConnections() {
        return pool == null ? 0 : pool.idleCount();
    }

    /** Closes the idle connections (when the gateway stops). */
    public void closeIdle() {
        if (pool != null) {
            pool.close();
        }
    }

    /**
     * For a stopping gateway whose shutdown timeout has run out: closes the connections of the sends still in
     * progress, which then fail with {@link SendCutShortException} (a transient failure: the request stays
     * pending), and refuses new sends. Nothing cut short was accepted by the server, so nothing is recorded as sent.
     */
    public int cutShort() {
        cuttingShort = true;
        closeIdle();
        return sockets.closeAll();
    }

    /**
     * Connects, starts TLS, authenticates as {@code mailbox} and offers it as the sender ({@code MAIL FROM}, then
     * {@code RSET}): whether sending as it works again, without sending anything. Fails as {@link #send} would.
     */
    public void probe(String mailbox) throws MessagingException {
        SMTPTransport transport = authenticated(mailbox, false).transport();
        try {
            // Exchange refuses some senders only at MAIL FROM (530 5.7.57, 550 5.7.708): ask, then take it back
            int code = transport.simpleCommand("MAIL FROM:<" + mailbox + ">");
            String reply = transport.getLastServerResponse();
            if (code != 250) {
                throw new SMTPSenderFailedException(new InternetAddress(mailbox), "MAIL FROM", code, reply);
            }
            transport.simpleCommand("RSET");
        } finally {
            close(transport);
        }
    }

    /**
     * A connection authenticated as {@code mailbox}, after one fresh-token retry if the server rejects a token and
     * {@code mayRefresh} (a probe of a held mailbox may not: the send that held it made that retry already, and
     * dropping the cached token would cost every other mailbox a token request).
     */
    private Connected authenticated(String mailbox, boolean mayRefresh) throws MessagingException {
        XOAuth2Authenticator authenticator = authenticator();
        for (int attempt = 1;; attempt++) {
            AccessToken token = token(authenticator);
            SMTPTransport transport = (SMTPTransport) getTransport(sessionWithoutAuthenticator());
            try {
                connect(transport, mailbox, token);
            } catch (AuthenticationFailedException e) {
                if (String.valueOf(e.getMessage()).startsWith(NO_COMMON_MECHANISM)) {
                    throw new XOAuth2NotOfferedException(getHost() + ":" + getPort(), oneLine(e.getMessage()),
                            null);
                }
                int code = transport.getLastReturnCode();
                if (code != 535 && code != 334) {
                    // 454 temporary failure, 421, a timeout or reset during AUTH: not about the token
                    throw e;
                }
                String reply = oneLine(transport.getLastServerResponse());
                TokenUse used = lastAccepted;
                if (!mayRefresh
                        || used != null && used.token().equals(token.value()) && !used.mailboxes().contains(mailbox)) {
                    // this token works for other mailboxes, so the refusal is about this one (no access to it):
                    // a fresh token would not help, and dropping it would cost every other sender a token request
                    throw new TokenRejectedException(mailbox, getHost(), reply);
                }
                authenticator.rejected(token);
                if (attempt == 1) {
                    LOG.info("{}:{} rejected the access token for {} ({}); retrying once with a fresh token",
                            getHost(), getPort(), mailbox, reply);
                    continue;
                }
                throw new TokenRejectedException(mailbox, getHost(), reply);
            }
            accepted(token, mailbox);
            return new Connected(transport, token.value());
        }
    }

    private XOAuth2Authenticator authenticator() {
        if (!(getAuthenticator() instanceof XOAuth2Authenticator authenticator)) {
            throw new IllegalStateException("the smtp endpoint using " + getClass().getSimpleName()
                    + " needs authenticator=#" + SmtpEndpoint.AUTHENTICATOR_BEAN);
        }
        return authenticator;
    }

    private void accepted(AccessToken token, String mailbox) {
        TokenUse used = lastAccepted;
        if (used == null || !used.token().equals(token.value())) {
            used = new TokenUse(token.value(), ConcurrentHashMap.newKeySet());
            lastAccepted = used;
        }
        used.mailboxes().add(mailbox);
    }

    /**
     * Camel's session carries the authenticator, and Jakarta Mail's {@code Service.connect} quietly retries a
     * failed AUTH with whatever that authenticator returns: the same rejected token, for the default mailbox.
     * Connecting through a session without one leaves the single fresh-token retry to {@link #send}.
     */
    private Session sessionWithoutAuthenticator() {
        Session session = connectSession;
        if (session == null) {
            Session configured = getSession();
            Properties properties = new Properties();
            properties.putAll(configured.getProperties());
            // the plain connection under STARTTLS comes from here, so that cutShort() can close it
            properties.put("mail.smtp.socketFactory", sockets);
            session = Session.getInstance(properties);
            session.setDebug(configured.getDebug());
            connectSession = session;
        }
        return session;
    }

    private void connect(SMTPTransport transport, String mailbox, AccessToken token) throws MessagingException {
        transport.connect(getHost(), getPort(), mailbox, token.value());
        String mechanisms = transport.getExtensionParameter("AUTH");
        if (mechanisms == null || !mechanisms.toUpperCase(Locale.ROOT).contains("XOAUTH2")) {
            // a server that refused EHLO after STARTTLS (421 4.7.66) shows no AUTH; its reply says why
            String reply = oneLine(transport.getLastServerResponse());
            close(transport);
            throw new XOAuth2NotOfferedException(getHost() + ":" + getPort(), mechanisms == null ? "no AUTH"
                    : "AUTH " + mechanisms, reply);
        }
    }

    private static AccessToken token(XOAuth2Authenticator authenticator) throws MessagingException {
        try {
            return authenticator.token();
        } catch (TokenException e) {
            throw new TokenUnavailableException(e);
        }
    }

    /** What camel-mail's default sender does for messages it built itself. */
    private static void prepare(MimeMessage message) throws MessagingException {
        if (message.getSentDate() == null) {
            message.setSentDate(new Date());
        }
        String messageId = message.getMessageID();
        message.saveChanges();
        if (messageId != null) {
            message.setHeader("Message-ID", messageId);
        }
    }

    private void close(Transport transport) {
        try {
            transport.close();
        } catch (MessagingException e) {
            LOG.debug("Closing the connection to {} failed: {}", getHost(), e.getMessage());
        }
    }

    /** The server refused a freshly fetched token too: the app's permissions or the mailbox need fixing. */
    public static final class TokenRejectedException extends AuthenticationFailedException {
        private final String mailbox;
        private final String serverReply;

        TokenRejectedException(String mailbox, String host, String serverReply) {
            super(host + " rejected a fresh access token for " + mailbox + ": " + serverReply);
            this.mailbox = mailbox;
            this.serverReply = serverReply;
        }

        public String mailbox() {
            return mailbox;
        }

        public String serverReply() {
            return serverReply;
        }
    }

    /** The send was cut short because Mailgate is stopping; the request stays pending. */
    public static final class SendCutShortException extends MessagingException {
        SendCutShortException(Exception cause) {
            super("Mailgate stopped while sending and cut the connection (mailgate.delivery.shutdown-timeout ran out)", cause);
        }
    }

    /** The server does not do SASL XOAUTH2 (it offers other mechanisms, or no AUTH at all). */
    public static final class XOAuth2NotOfferedException extends MessagingException {
        private final String serverReply;

        XOAuth2NotOfferedException(String server, String offered, String serverReply) {
            super("the SMTP server at " + server + " does not offer AUTH XOAUTH2 (" + offered + ")");
            this.serverReply = serverReply;
        }

        /** The server's last reply (to EHLO), which may say why it offers nothing. */
        public String serverReply() {
            return serverReply;
        }
    }

    /** No token could be had from Entra ID; the cause says why and what to fix. */
    public static final class TokenUnavailableException extends MessagingException {
        TokenUnavailableException(TokenException cause) {
            super(cause.getMessage(), cause);
        }

        public TokenException tokenException() {
            return (TokenException) getCause();
        }
    }
}
