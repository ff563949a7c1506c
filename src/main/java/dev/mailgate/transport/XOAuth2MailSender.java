package dev.mailgate.transport;

import static dev.mailgate.text.Text.oneLine;

import java.io.IOException;
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
import org.eclipse.angus.mail.smtp.SMTPSendFailedException;
import org.eclipse.angus.mail.smtp.SMTPSenderFailedException;
import org.eclipse.angus.mail.smtp.SMTPTransport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.auth.AccessToken;
import dev.mailgate.auth.TokenException;
import dev.mailgate.auth.XOAuth2;
import dev.mailgate.auth.XOAuth2Authenticator;
import dev.mailgate.compose.OutgoingMessage;
import dev.mailgate.request.InvalidRequestException;

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
 * TLS handshake and {@code AUTH} for every message; a connection that failed in any way is closed;</li>
 * <li>sends the token on the {@code AUTH} line, or on a line of its own to a server that refuses the long line
 * ({@link Form}).</li>
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
    private volatile Session twoLineSession;
    private volatile XOAuth2.Form form = XOAuth2.Form.AUTO;
    /** Servers that refused the token on the AUTH line (e.g. {@code 500 5.5.2 Line too long}). */
    private final Set<String> twoLineServers = ConcurrentHashMap.newKeySet();

    /**
     * The two forms of SASL XOAUTH2 in SMTP: the token on the {@code AUTH XOAUTH2 <response>} line (initial response,
     * one round trip), or {@code AUTH XOAUTH2} → {@code 334} → the response on a line of its own, for servers that
     * cap the length of a command line below a token's 1.5–3 KB. {@code AUTO} uses the first and falls back to the
     * second, for good, with a server that refuses the long line.
     */
    /** The last token a server accepted, and for which mailboxes. */
    private volatile TokenUse lastAccepted;

    private record TokenUse(String token, Set<String> mailboxes) {
    }

    /** A connection authenticated as a mailbox, the token it used, and whether it carried earlier messages. */
    private record Connected(SMTPTransport transport, String token, boolean reused) {
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
        usableAsUser(mailbox);
        if (outgoing == null) {
            prepare(message);
        }
        if (cuttingShort) {
            throw new SendCutShortException(null);
        }
        Connected connection = connection(mailbox);
        int writes = outgoing != null ? outgoing.writes() : -1;
        String reply;
        try {
            reply = sendOn(connection, mailbox, message);
        } catch (MessagingException e) {
            if (!connection.reused() || cuttingShort || outgoing == null || outgoing.writes() != writes
                    || !connectionLost(e)) {
                throw e;
            }
            // the server closed the kept connection before the message's content went out (an idle timeout or
            // a 421 since its last use, inside validate-after): nothing was accepted, so it goes on a new one now
            LOG.debug("{}:{} closed a kept connection of {} ({}); sending on a new one", getHost(), getPort(), mailbox,
                    oneLine(e.getMessage()));
            reply = sendOn(authenticated(mailbox, true), mailbox, message);
        }
        if (outgoing != null) {
            outgoing.accepted(reply);
        }
        LOG.debug("{}:{} accepted {} for {} recipient(s): {}", getHost(), getPort(), message.getMessageID(),
                message.getAllRecipients().length, reply);
    }

    /** Sends on the connection and returns the server's reply; keeps the connection for the next message if it can. */
    private String sendOn(Connected connection, String mailbox, MimeMessage message) throws MessagingException {
        SMTPTransport transport = connection.transport();
        boolean reusable = false;
        try {
            transport.sendMessage(message, message.getAllRecipients());
            reusable = true;
            // the reply to the message itself, before QUIT replaces it
            return oneLine(transport.getLastServerResponse());
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
    }

    /**
     * Whether the failure says the connection is gone rather than anything about the message: end of stream or
     * {@code 421} in reply to a command, or an I/O error.
     */
    private static boolean connectionLost(MessagingException e) {
        if (e instanceof SMTPSendFailedException failed) {
            return failed.getReturnCode() == -1 || failed.getReturnCode() == 421;
        }
        return e.getNextException() instanceof IOException;
    }

    /** An idle connection of the mailbox that still uses the current token, or a new one. */
    private Connected connection(String mailbox) throws MessagingException {
        if (pool != null) {
            String token = token(authenticator()).value();
            SMTPTransport idle = pool.take(mailbox, token);
            if (idle != null) {
                return new Connected(idle, token, true);
            }
        }
        return authenticated(mailbox, true);
    }

    /** Connects through {@code proxy} ({@code mailgate.smtp.proxy}): its sockets are tracked like direct ones. */
    public XOAuth2MailSender proxy(ProxyTunnel proxy) {
        sockets.through(proxy);
        return this;
    }

    /** Which XOAUTH2 form to use ({@code mailgate.smtp.xoauth2-form}). */
    public XOAuth2MailSender form(XOAuth2.Form form) {
        this.form = form;
        return this;
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
        if (getHost() == null) {
            // camel-mail configures the server (host, port, TLS properties) when the endpoint makes its producer,
            // on the thread of the first message: until this thread sees that, there is nothing to probe safely (a
            // plain MessagingException: transient, the probe tries again next round)
            throw new MessagingException("the smtp endpoint has not configured the sender yet; probing later");
        }
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
        usableAsUser(mailbox);
        XOAuth2Authenticator authenticator = authenticator();
        String server = getHost() + ":" + getPort();
        for (int attempt = 1;; attempt++) {
            AccessToken token = token(authenticator);
            boolean twoLine = form.startsTwoLine(twoLineServers.contains(server));
            SMTPTransport transport = (SMTPTransport) getTransport(twoLine ? twoLineSession()
                    : sessionWithoutAuthenticator());
            try {
                if (twoLine) {
                    connectTwoLine(transport, mailbox, token);
                } else {
                    connect(transport, mailbox, token);
                }
            } catch (AuthenticationFailedException e) {
                if (String.valueOf(e.getMessage()).startsWith(NO_COMMON_MECHANISM)) {
                    throw new XOAuth2NotOfferedException(server, oneLine(e.getMessage()), null);
                }
                int code = e instanceof Refused r ? r.code : transport.getLastReturnCode();
                String reply = e instanceof Refused r ? r.reply : oneLine(transport.getLastServerResponse());
                if (!twoLine && form.fallsBackOn(code)) {
                    // the AUTH line with the token was too long for this server: not about the token
                    twoLineServers.add(server);
                    LOG.warn("{} refused the AUTH line that carries the token ({}); using the two-line XOAUTH2 form "
                            + "with it from now on (mailgate.smtp.xoauth2-form=two-line says so from the start)",
                            server, reply);
                    attempt--;
                    continue;
                }
                if (!twoLine && XOAuth2.refusesTheLine(code)) {
                    // forced by configuration: retrying the same line cannot help
                    throw new AuthLineRefusedException(server, reply);
                }
                if (code != 535 && code != 334) {
                    // 454 temporary failure, 421, a timeout or reset during AUTH: not about the token
                    throw e;
                }
                TokenUse used = lastAccepted;
                if (!mayRefresh
                        || used != null && used.token().equals(token.value()) && !used.mailboxes().contains(mailbox)) {
                    // this token works for other mailboxes, so the refusal is about this one (no access to it):
                    // a fresh token would not help, and dropping it would cost every other sender a token request
                    throw new TokenRejectedException(mailbox, getHost(), reply);
                }
                authenticator.rejected(token);
                if (attempt == 1) {
                    LOG.info("{} rejected the access token for {} ({}); retrying once with a fresh token", server,
                            mailbox, reply);
                    continue;
                }
                throw new TokenRejectedException(mailbox, getHost(), reply);
            }
            accepted(token, mailbox);
            return new Connected(transport, token.value(), false);
        }
    }

    /**
     * A mailbox with a control character never reaches the XOAUTH2 {@code user=} (Angus Mail writes it there unchecked
     * for the initial-response form): the request fails as invalid, naming its sender, before any connection. As an
     * authentication failure it would hold the mailbox for ever, and {@code \x01} would end {@code user=} early.
     */
    private static void usableAsUser(String mailbox) {
        try {
            XOAuth2.checkUser(mailbox);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException("from", e.getMessage() + "; send as a plain mailbox address");
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
            // without it Jakarta Mail connects again with a plain java.net.Socket when the factory's connection fails:
            // around the proxy (mailgate.smtp.proxy), and past the tracking that lets a stop cut it
            properties.put("mail.smtp.socketFactory.fallback", "false");
            // closing sends QUIT without waiting for its 221: a stalled server cannot hold up a stop or the closing
            // of idle connections (the message's own reply was read before)
            properties.put("mail.smtp.quitwait", "false");
            session = Session.getInstance(properties);
            session.setDebug(configured.getDebug());
            connectSession = session;
        }
        return session;
    }

    private void connect(SMTPTransport transport, String mailbox, AccessToken token) throws MessagingException {
        transport.connect(getHost(), getPort(), mailbox, token.value());
        requireXOAuth2(transport);
    }

    /**
     * Connects without Jakarta Mail's own AUTH ({@code mail.smtp.auth=false}: EHLO, STARTTLS, EHLO), then
     * {@code AUTH XOAUTH2}, {@code 334}, the response on its own line. The session has no protocol trace, which
     * would show the response.
     */
    private void connectTwoLine(SMTPTransport transport, String mailbox, AccessToken token) throws MessagingException {
        transport.connect(getHost(), getPort(), null, null);
        requireXOAuth2(transport);
        XOAuth2.Reply reply = XOAuth2.twoLine((line, carriesToken) -> new XOAuth2.Reply(transport.simpleCommand(line),
                oneLine(transport.getLastServerResponse())), XOAuth2.encoded(mailbox, token.value()));
        if (reply.code() != 235) {
            close(transport);
            throw new Refused(reply.code(), reply.line());
        }
    }

    private void requireXOAuth2(SMTPTransport transport) throws MessagingException {
        String mechanisms = transport.getExtensionParameter("AUTH");
        if (mechanisms == null || !mechanisms.toUpperCase(Locale.ROOT).contains("XOAUTH2")) {
            // a server that refused EHLO after STARTTLS (421 4.7.66) shows no AUTH; its reply says why
            String reply = oneLine(transport.getLastServerResponse());
            close(transport);
            throw new XOAuth2NotOfferedException(getHost() + ":" + getPort(), mechanisms == null ? "no AUTH"
                    : "AUTH " + mechanisms, reply);
        }
    }

    /** The two-line form's sessions: Mailgate's own AUTH, and never a protocol trace. */
    private Session twoLineSession() {
        Session session = twoLineSession;
        if (session == null) {
            Properties properties = new Properties();
            properties.putAll(sessionWithoutAuthenticator().getProperties());
            properties.put("mail.smtp.auth", "false");
            properties.put("mail.debug", "false");
            session = Session.getInstance(properties);
            session.setDebug(false);
            twoLineSession = session;
        }
        return session;
    }

    /** The server's refusal of the two-line AUTH (the connection is closed, so it carries the code itself). */
    private static final class Refused extends AuthenticationFailedException {
        private final int code;
        private final String reply;

        Refused(int code, String reply) {
            super(reply);
            this.code = code;
            this.reply = reply;
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

    /**
     * The server refused the {@code AUTH} line carrying the token (e.g. {@code 500 5.5.2 Line too long}) while
     * {@code mailgate.smtp.xoauth2-form=initial-response} forbids the two-line form.
     */
    public static final class AuthLineRefusedException extends MessagingException {
        private final String serverReply;

        AuthLineRefusedException(String server, String serverReply) {
            super("the SMTP server at " + server + " refused the AUTH line that carries the token (" + serverReply
                    + "), and mailgate.smtp.xoauth2-form=initial-response allows no other form");
            this.serverReply = serverReply;
        }

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
