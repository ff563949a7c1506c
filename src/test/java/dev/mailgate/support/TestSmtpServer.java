package dev.mailgate.support;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;

import org.awaitility.Awaitility;
import org.subethamail.smtp.AuthenticationHandler;
import org.subethamail.smtp.AuthenticationHandlerFactory;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.auth.EasyAuthenticationHandlerFactory;
import org.subethamail.smtp.auth.LoginFailedException;
import org.subethamail.smtp.server.SMTPServer;

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
                return new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(data));
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
    private final AtomicInteger gmailRejections = new AtomicInteger();
    private volatile Duration dataStall = Duration.ZERO;
    private volatile boolean deferEveryData;
    private final Queue<RejectException> dataReplies = new ConcurrentLinkedQueue<>();
    private final AtomicInteger transactions = new AtomicInteger();
    private volatile Duration everyDataTakes = Duration.ZERO;
    private final Map<String, AtomicInteger> dataInProgress = new ConcurrentHashMap<>();
    private final Map<String, Integer> mostDataAtOnce = new ConcurrentHashMap<>();

    private TestSmtpServer(SSLContext tls, SandboxTokens tokens, AuthenticationHandlerFactory otherAuth) {
        AuthenticationHandlerFactory auth = otherAuth != null ? otherAuth : gmailStyle(new XOAuth2Authentication(
                (mailbox, token) -> {
                    RejectException reply = authReplies.poll();
                    if (reply != null) {
                        throw reply;
                    }
                    if (authRejections.getAndUpdate(n -> Math.max(0, n - 1)) > 0 || refusedMailboxes.contains(mailbox)) {
                        return Optional.of("scripted rejection");
                    }
                    return tokens.problem(token);
                }, sasl::add));
        SMTPServer.Builder builder = SMTPServer.port(0)
                .bindAddress(InetAddress.getLoopbackAddress())
                .hostName("localhost")
                .authenticationHandlerFactory(auth)
                .requireAuth()
                .messageHandlerFactory(Transaction::new);
        if (tls != null) {
            builder.requireTLS().startTlsSocketFactory(socket -> {
                InetSocketAddress remote = (InetSocketAddress) socket.getRemoteSocketAddress();
                SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(socket, remote.getHostString(),
                        socket.getPort(), true);
                s.setUseClientMode(false);
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
        public void from(String address) {
            from = address;
        }

        @Override
        public void recipient(String recipient) throws RejectException {
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
                return accept(data, mailbox);
            } finally {
                inProgress.decrementAndGet();
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
            if (deferEveryData) {
                throw new RejectException(451, "4.7.500 Server busy. Please try again later.");
            }
            RejectException scripted = dataReplies.poll();
            if (scripted != null) {
                throw scripted;
            }
            received.add(new Received(from, List.copyOf(recipients), mailbox.isEmpty() ? null : mailbox, bytes,
                    Instant.now()));
            return "2.0.0 OK <" + received.size() + "@test> [Hostname=TEST]";
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
