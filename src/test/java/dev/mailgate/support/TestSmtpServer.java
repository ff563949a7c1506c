package dev.mailgate.support;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.util.SharedByteArrayInputStream;

import org.awaitility.Awaitility;
import org.subethamail.smtp.AuthenticationHandler;
import org.subethamail.smtp.AuthenticationHandlerFactory;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.auth.EasyAuthenticationHandlerFactory;
import org.subethamail.smtp.auth.LoginFailedException;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.smtp.server.SessionHandler;

import dev.mailgate.sandbox.SandboxTokens;
import dev.mailgate.sandbox.XOAuth2Authentication;

/**
 * A real SMTP submission server on a loopback socket for tests: STARTTLS (or not), SASL XOAUTH2 checked
 * with the production handler against tokens from a {@link TestEntra}, and scriptable replies
 * (Exchange Online's 535 / 451 / 550 texts). It records the decoded SASL responses and every message.
 */
public final class TestSmtpServer implements AutoCloseable {

    /** One accepted message: the envelope, the authenticated mailbox, the bytes exactly as received, and when. */
    public record Received(String mailFrom, List<String> recipients, String mailbox, byte[] data, Instant at) {
        public MimeMessage message() {
            try {
                // a shared stream: the parts read from the bytes received instead of a copy (a mail can be 40 MB)
                return new MimeMessage(Session.getInstance(new Properties()), new SharedByteArrayInputStream(data));
            } catch (jakarta.mail.MessagingException e) {
                throw new IllegalStateException(e);
            }
        }

        public String text() {
            return new String(data, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    private final SMTPServer server;
    private final List<String> sasl = new CopyOnWriteArrayList<>();
    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final AtomicInteger authRejections = new AtomicInteger();
    private final Queue<RejectException> authReplies = new ConcurrentLinkedQueue<>();
    private final List<String> refusedMailboxes = new CopyOnWriteArrayList<>();
    private final List<String> rbacMailboxes = new CopyOnWriteArrayList<>();
    private final List<String> sendAsGrants = new CopyOnWriteArrayList<>();
    private volatile boolean sendAsEnforced;
    private final AtomicInteger gmailRejections = new AtomicInteger();
    private volatile int authLineLimit = Integer.MAX_VALUE;
    private final AtomicInteger twoLineAuths = new AtomicInteger();
    private volatile Duration dataStall = Duration.ZERO;
    private volatile boolean deferEveryData;
    private final Queue<RejectException> dataReplies = new ConcurrentLinkedQueue<>();
    private final AtomicInteger transactions = new AtomicInteger();
    private volatile Duration everyDataTakes = Duration.ZERO;
    private final Map<String, AtomicInteger> dataInProgress = new ConcurrentHashMap<>();
    private final Map<String, Integer> mostDataAtOnce = new ConcurrentHashMap<>();
    private final AtomicReference<DataHold> dataHold = new AtomicReference<>();
    private final AtomicInteger abortedData = new AtomicInteger();
    // on-demand faults: a reply at a given stage (once or until healed), a dropped or stalled end of DATA, a
    // refusal right after STARTTLS; and what the server saw of them
    private final Map<Stage, Queue<Reply>> nextReplies = new ConcurrentHashMap<>();
    private final Map<Stage, Reply> everyReply = new ConcurrentHashMap<>();
    private final AtomicInteger dropsAfterData = new AtomicInteger();
    private volatile Duration stallAfterData = Duration.ZERO;
    private volatile Reply refusalAfterStartTls;
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger mailFromCommands = new AtomicInteger();

    /** Where in the SMTP session a scripted reply is given. */
    public enum Stage { AUTH, MAIL_FROM, RCPT_TO, END_OF_DATA }

    private record Reply(int code, String text) {
        RejectException exception() {
            return new RejectException(code, text);
        }
    }

    private TestSmtpServer(SSLContext tls, SandboxTokens tokens, AuthenticationHandlerFactory otherAuth) {
        this(tls, tokens, otherAuth, null);
    }

    private TestSmtpServer(SSLContext tls, SandboxTokens tokens, AuthenticationHandlerFactory otherAuth,
            Duration idleTimeout) {
        AuthenticationHandlerFactory auth = otherAuth != null ? otherAuth : gmailStyle(new XOAuth2Authentication(
                (mailbox, token) -> {
                    RejectException reply = authReplies.poll();
                    if (reply != null) {
                        throw reply;
                    }
                    scripted(Stage.AUTH);
                    if (authRejections.getAndUpdate(n -> Math.max(0, n - 1)) > 0 || refusedMailboxes.contains(mailbox)) {
                        return Optional.of("scripted rejection");
                    }
                    // RBAC for Applications: the grant is the server's, the token needs no role for such a mailbox
                    return tokens.problem(token, !rbacMailboxes.contains(mailbox.toLowerCase(Locale.ROOT)));
                }, sasl::add));
        SMTPServer.Builder builder = SMTPServer.port(0)
                .bindAddress(InetAddress.getLoopbackAddress())
                .hostName("localhost")
                .authenticationHandlerFactory(auth)
                .requireAuth()
                .sessionHandler(new SessionHandler() {
                    @Override
                    public SessionHandler.SessionAcceptance accept(org.subethamail.smtp.server.Session session) {
                        connections.incrementAndGet();
                        return SessionHandler.SessionAcceptance.success();
                    }

                    @Override
                    public void onSessionEnd(org.subethamail.smtp.server.Session session) {
                    }
                })
                .messageHandlerFactory(Transaction::new);
        if (idleTimeout != null) {
            // like Exchange Online, the server hangs up on a client that stays silent too long
            builder.connectionTimeout((int) idleTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        if (tls != null) {
            builder.requireTLS().startTlsSocketFactory(socket -> {
                InetSocketAddress remote = (InetSocketAddress) socket.getRemoteSocketAddress();
                SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(socket, remote.getHostString(),
                        socket.getPort(), true);
                s.setUseClientMode(false);
                Reply refusal = refusalAfterStartTls;
                if (refusal != null) {
                    // TLS is up, and the client's next command (EHLO) is answered with the refusal; then the server
                    // hangs up, as Exchange Online does with 421 4.7.66 for a client on TLS 1.0/1.1
                    s.setSoTimeout(10_000);
                    s.startHandshake();
                    InputStream in = s.getInputStream();
                    for (int b = in.read(); b != -1 && b != '\n'; b = in.read()) {
                        // the client's EHLO line
                    }
                    s.getOutputStream().write((refusal.code() + " " + refusal.text() + "\r\n")
                            .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    s.close();
                }
                return s;
            });
        } else {
            builder.showAuthCapabilitiesBeforeSTARTTLS(true);
        }
        server = builder.build();
        server.start();
    }

    /** STARTTLS with {@code tls}'s certificate, then XOAUTH2. */
    public static TestSmtpServer withStartTls(SSLContext tls, SandboxTokens tokens) {
        return new TestSmtpServer(tls, tokens, null);
    }

    /** The same, hanging up on a connection that has been silent for {@code idleTimeout}. */
    public static TestSmtpServer withStartTls(SSLContext tls, SandboxTokens tokens, Duration idleTimeout) {
        return new TestSmtpServer(tls, tokens, null, idleTimeout);
    }

    /** STARTTLS, then only AUTH PLAIN and LOGIN (a classic relay): every password attempt is recorded. */
    public static TestSmtpServer withPasswordAuthOnly(SSLContext tls, List<String> passwordsSeen) {
        return new TestSmtpServer(tls, null, new EasyAuthenticationHandlerFactory((user, password, context) -> {
            passwordsSeen.add(password);
            throw new LoginFailedException();
        }));
    }

    /** No STARTTLS at all, but AUTH XOAUTH2 offered in the clear: a server Mailgate must refuse. */
    public static TestSmtpServer cleartext(SandboxTokens tokens) {
        return new TestSmtpServer(null, tokens, null);
    }

    public int port() {
        return server.getPortAllocated();
    }

    /** The next {@code n} AUTH attempts are answered {@code 535 5.7.3 Authentication unsuccessful}. */
    public void rejectNextAuth(int n) {
        authRejections.set(n);
    }

    /** The next AUTH is answered with this reply, e.g. {@code 454, "4.7.0 Temporary authentication failure"}. */
    public void replyToNextAuth(int code, String text) {
        authReplies.add(new RejectException(code, text));
    }

    /**
     * Grants the app this mailbox the way Exchange's RBAC for Applications does ({@code New-ManagementRoleAssignment
     * -Role 'Application SMTP.SendAsApp' -CustomResourceScope ...}): held by the server, so a token without any
     * roles claim is accepted for it; other mailboxes still need the token's {@code SMTP.SendAsApp} role.
     */
    public void grantThroughRbac(String mailbox) {
        rbacMailboxes.add(mailbox.toLowerCase(Locale.ROOT));
    }

    /**
     * From now on a message whose {@code From} is not the mailbox that authenticated is refused at the end of DATA
     * with {@code 554 5.2.252 SendAsDenied}, as Exchange does, unless {@link #grantSendAs} allowed it.
     */
    public void enforceSendAs() {
        sendAsEnforced = true;
    }

    /** {@code Add-RecipientPermission -Identity <from> -AccessRights SendAs -Trustee <mailbox>}. */
    public void grantSendAs(String from, String mailbox) {
        sendAsGrants.add(from.toLowerCase(Locale.ROOT) + " " + mailbox.toLowerCase(Locale.ROOT));
    }

    /** Every AUTH as this mailbox is refused, whatever the token: the app has no access to it. */
    public void refuseMailbox(String mailbox) {
        refusedMailboxes.add(mailbox);
    }

    /** Undoes {@link #refuseMailbox}: the app was granted access to the mailbox. */
    public void acceptMailbox(String mailbox) {
        refusedMailboxes.remove(mailbox);
    }

    /**
     * The next {@code n} AUTH attempts fail the way Gmail does it: {@code 334 <base64 JSON error>}, then, after the
     * client's empty line, {@code 535 5.7.8}.
     */
    /**
     * AUTH lines longer than {@code max} characters are refused with {@code 500 5.5.2 Line too long}, as some
     * submission servers do: the token then has to come on a line of its own.
     */
    public void limitAuthLine(int max) {
        authLineLimit = max;
    }

    /** How many times a client used the two-line form ({@code AUTH XOAUTH2} alone, then the response). */
    public int twoLineAuths() {
        return twoLineAuths.get();
    }

    public void rejectNextAuthGmailStyle(int n) {
        gmailRejections.set(n);
    }

    /** While on, every DATA is answered {@code 451 4.7.500 Server busy}: the server is "down" for mail. */
    public void deferEveryData(boolean on) {
        deferEveryData = on;
    }

    /** The next DATA is read only after this pause, so a client writing a large message blocks. */
    public void stallNextData(Duration pause) {
        dataStall = pause;
    }

    /** Every DATA takes this long to answer, so that concurrent sessions overlap. */
    public void slowEveryData(Duration pause) {
        everyDataTakes = pause;
    }

    /** The most DATA commands {@code mailbox} had in progress at the same time (over separate connections). */
    public int mostDataAtOnce(String mailbox) {
        return mostDataAtOnce.getOrDefault(mailbox, 0);
    }

    /** The next DATA is answered with this reply instead of 250, e.g. {@code 451, "4.7.500 Server busy"}. */
    public void replyToNextData(int code, String text) {
        dataReplies.add(new RejectException(code, text));
    }

    /**
     * The next command at {@code stage} is answered with this reply, e.g. {@code MAIL_FROM, 530, "5.7.57 Client not
     * authenticated to send mail"}. Several calls queue up.
     */
    public void replyToNext(Stage stage, int code, String text) {
        nextReplies.computeIfAbsent(stage, s -> new ConcurrentLinkedQueue<>()).add(new Reply(code, text));
    }

    /** Every command at {@code stage} is answered with this reply until {@link #heal()}. */
    public void replyToEvery(Stage stage, int code, String text) {
        everyReply.put(stage, new Reply(code, text));
    }

    /**
     * Each of the next TLS sessions is refused as soon as TLS is up: the client's EHLO gets this reply and the
     * connection is closed, before any AUTH (Exchange Online's {@code 421 4.7.66} for a TLS version it refuses).
     * Until {@link #heal()}.
     */
    public void refuseAfterStartTls(int code, String text) {
        refusalAfterStartTls = new Reply(code, text);
    }

    /**
     * The next {@code n} messages are read to the end of DATA and kept (the server has them and may deliver them),
     * but the connection is closed without a reply: the client cannot know whether they were accepted.
     */
    public void dropConnectionAfterNextData(int n) {
        dropsAfterData.set(n);
    }

    /**
     * The next message is read to the end of DATA, then the server neither answers nor keeps it for {@code pause}
     * and hangs up: a stalled server whose client's read timeout must fire.
     */
    public void stallAfterNextData(Duration pause) {
        stallAfterData = pause;
    }

    /** Ends the faults set with {@link #replyToEvery} and {@link #refuseAfterStartTls}. */
    public void heal() {
        everyReply.clear();
        refusalAfterStartTls = null;
    }

    /** TCP connections the server accepted. */
    public int connections() {
        return connections.get();
    }

    /** MAIL FROM commands the server got, answered with 250 or not. */
    public int mailFromCommands() {
        return mailFromCommands.get();
    }

    /** Throws the reply scripted for {@code stage}, if any: a one-off first, then a lasting one. */
    private void scripted(Stage stage) throws RejectException {
        Queue<Reply> next = nextReplies.get(stage);
        Reply reply = next == null ? null : next.poll();
        if (reply == null) {
            reply = everyReply.get(stage);
        }
        if (reply != null) {
            throw reply.exception();
        }
    }

    /**
     * A DATA held before the server reads a byte of the message: the server has answered {@code 354}, and the
     * client writes into the connection until the socket buffers are full (a message larger than them leaves the
     * client blocked in the middle of its data). Released, the server reads on; if the client has gone in the
     * meantime, the data ends before {@code <CRLF>.<CRLF>} and the message is not received (see
     * {@link #abortedData()}).
     */
    public static final class DataHold {
        private final String recipient;
        private final CountDownLatch held = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);

        private DataHold(String recipient) {
            this.recipient = recipient;
        }

        /** Waits until a DATA to the recipient is being held. */
        public boolean awaitHeld(Duration timeout) throws InterruptedException {
            return held.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }

        /** Lets the held DATA be read. */
        public void release() {
            released.countDown();
        }
    }

    /** Holds the next DATA of a transaction with {@code recipient} among its recipients, until released. */
    public DataHold holdDataTo(String recipient) {
        DataHold hold = new DataHold(recipient);
        dataHold.set(hold);
        return hold;
    }

    /** DATA transfers that ended before the end of data (the client went away): no message was received. */
    public int abortedData() {
        return abortedData.get();
    }

    /** Every SASL XOAUTH2 response the server saw, decoded, in order. */
    public List<String> saslResponses() {
        return List.copyOf(sasl);
    }

    public List<Received> received() {
        return List.copyOf(received);
    }

    /** Mail transactions that reached DATA, accepted or not. */
    public int dataCommands() {
        return transactions.get();
    }

    public List<Received> awaitReceived(int count) {
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> received.size() >= count);
        return received();
    }

    /**
     * What the server has seen so far: a test sharing the server with others (one gateway per class) takes this when it
     * begins and asks it what happened since, so that it asserts only its own traffic.
     */
    public Since since() {
        return new Since(received.size(), sasl.size(), connections(), transactions.get(), mailFromCommands());
    }

    /** The server's traffic from a point on ({@link #since()}). */
    public final class Since {
        private final int received;
        private final int sasl;
        private final int connections;
        private final int data;
        private final int mailFrom;

        private Since(int received, int sasl, int connections, int data, int mailFrom) {
            this.received = received;
            this.sasl = sasl;
            this.connections = connections;
            this.data = data;
            this.mailFrom = mailFrom;
        }

        /** How many messages the server had accepted at that point. */
        public int receivedBefore() {
            return received;
        }

        public List<Received> received() {
            List<Received> all = TestSmtpServer.this.received();
            return all.subList(received, all.size());
        }

        public List<Received> awaitReceived(int count) {
            return TestSmtpServer.this.awaitReceived(received + count).subList(received, received + count);
        }

        public List<String> sasl() {
            List<String> all = saslResponses();
            return all.subList(sasl, all.size());
        }

        public int connections() {
            return TestSmtpServer.this.connections() - connections;
        }

        public int dataCommands() {
            return TestSmtpServer.this.dataCommands() - data;
        }

        public int mailFromCommands() {
            return TestSmtpServer.this.mailFromCommands() - mailFrom;
        }
    }

    @Override
    public void close() {
        server.stop();
    }

    /** Wraps the XOAUTH2 handler so that scripted rejections take Gmail's {@code 334 <json>} form. */
    private AuthenticationHandlerFactory gmailStyle(AuthenticationHandlerFactory xoauth2) {
        return new AuthenticationHandlerFactory() {
            @Override
            public List<String> getAuthenticationMechanisms() {
                return xoauth2.getAuthenticationMechanisms();
            }

            @Override
            public AuthenticationHandler create() {
                AuthenticationHandler real = xoauth2.create();
                return new AuthenticationHandler() {
                    private boolean challenged;

                    @Override
                    public Optional<String> auth(String input, MessageContext context) throws RejectException {
                        if (input.regionMatches(true, 0, "AUTH ", 0, 5) && input.trim().length() > authLineLimit) {
                            throw new RejectException(500, "5.5.2 Line too long");
                        }
                        if (input.trim().equalsIgnoreCase("AUTH XOAUTH2")) {
                            twoLineAuths.incrementAndGet();
                        }
                        if (challenged) {
                            throw new RejectException(535, "5.7.8 Username and Password not accepted");
                        }
                        if (gmailRejections.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                            if (input.trim().split(" +").length > 2) {
                                sasl.add(new String(java.util.Base64.getDecoder().decode(input.trim().split(" +")[2]),
                                        java.nio.charset.StandardCharsets.UTF_8));
                            }
                            challenged = true;
                            return Optional.of("334 " + java.util.Base64.getEncoder().encodeToString(
                                    "{\"status\":\"401\",\"schemes\":\"Bearer\",\"scope\":\"https://mail.google.com/\"}"
                                            .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                        }
                        return real.auth(input, context);
                    }

                    @Override
                    public Object getIdentity() {
                        return real.getIdentity();
                    }
                };
            }
        };
    }

    private final class Transaction implements MessageHandler {
        private final MessageContext context;
        private String from;
        private final List<String> recipients = new ArrayList<>();

        Transaction(MessageContext context) {
            this.context = context;
        }

        @Override
        public void from(String address) throws RejectException {
            mailFromCommands.incrementAndGet();
            scripted(Stage.MAIL_FROM);
            from = address;
        }

        @Override
        public void recipient(String recipient) throws RejectException {
            scripted(Stage.RCPT_TO);
            if (recipient.startsWith("nobody@")) {
                throw new RejectException(550, "5.1.1 RESOLVER.ADR.RecipNotFound; not found");
            }
            recipients.add(recipient);
        }

        @Override
        public String data(InputStream data) throws RejectException, IOException {
            transactions.incrementAndGet();
            String mailbox = context.getAuthenticationHandler().map(h -> (String) h.getIdentity()).orElse("");
            AtomicInteger inProgress = dataInProgress.computeIfAbsent(mailbox, m -> new AtomicInteger());
            int now = inProgress.incrementAndGet();
            mostDataAtOnce.merge(mailbox, now, Math::max);
            try {
                holdIfAsked();
                return accept(data, mailbox);
            } catch (IOException e) {
                // the connection ended before <CRLF>.<CRLF>: nothing was received
                abortedData.incrementAndGet();
                throw e;
            } finally {
                inProgress.decrementAndGet();
            }
        }

        private void holdIfAsked() {
            DataHold hold = dataHold.get();
            if (hold != null && recipients.contains(hold.recipient) && dataHold.compareAndSet(hold, null)) {
                hold.held.countDown();
                try {
                    hold.released.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        private String accept(InputStream data, String mailbox) throws RejectException, IOException {
            pause(everyDataTakes);
            Duration stall = dataStall;
            if (!stall.isZero()) {
                dataStall = Duration.ZERO;
                try {
                    Thread.sleep(stall.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            byte[] bytes = data.readAllBytes();
            if (dropsAfterData.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                received.add(new Received(from, List.copyOf(recipients), mailbox.isEmpty() ? null : mailbox, bytes,
                        Instant.now()));
                ((org.subethamail.smtp.server.Session) context).closeSocket();
                return null;
            }
            Duration stalled = stallAfterData;
            if (!stalled.isZero()) {
                stallAfterData = Duration.ZERO;
                pause(stalled);
                ((org.subethamail.smtp.server.Session) context).closeSocket();
                return null;
            }
            if (deferEveryData) {
                throw new RejectException(451, "4.7.500 Server busy. Please try again later.");
            }
            RejectException scripted = dataReplies.poll();
            if (scripted != null) {
                throw scripted;
            }
            scripted(Stage.END_OF_DATA);
            checkSendAs(mailbox, bytes);
            received.add(new Received(from, List.copyOf(recipients), mailbox.isEmpty() ? null : mailbox, bytes,
                    Instant.now()));
            return "2.0.0 OK <" + received.size() + "@test> [Hostname=TEST]";
        }

        /**
         * As Exchange does at the end of DATA: a message whose From is not the authenticated mailbox needs that
         * mailbox's Send As on the From address ({@link #grantSendAs}), once {@link #enforceSendAs} is on.
         */
        private void checkSendAs(String mailbox, byte[] bytes) throws RejectException {
            if (!sendAsEnforced || mailbox.isEmpty()) {
                return;
            }
            String header;
            try {
                jakarta.mail.Address[] fromHeader = new jakarta.mail.internet.MimeMessage(null,
                        new java.io.ByteArrayInputStream(bytes)).getFrom();
                header = fromHeader == null ? "" : ((jakarta.mail.internet.InternetAddress) fromHeader[0]).getAddress();
            } catch (jakarta.mail.MessagingException e) {
                header = "";
            }
            String author = header.toLowerCase(Locale.ROOT);
            if (!author.equalsIgnoreCase(mailbox) && !sendAsGrants.contains(author + " " + mailbox.toLowerCase(
                    Locale.ROOT))) {
                throw new RejectException(554, "5.2.252 SendAsDenied; " + mailbox + " not allowed to send as "
                        + header + "; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; "
                        + "Failed to process message due to a permanent exception with message Cannot submit "
                        + "message. [Hostname=AM7PR02MB5862.eurprd02.prod.outlook.com]");
            }
        }

        @Override
        public void done() {
        }

        private static void pause(Duration pause) {
            if (!pause.isZero()) {
                try {
                    Thread.sleep(pause.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
