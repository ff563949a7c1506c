package dev.mailgate.sandbox;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.server.SMTPServer;

/**
 * The sandbox's submission server on 127.0.0.1: STARTTLS required (TLS 1.2+), {@code AUTH XOAUTH2} required,
 * and every accepted message written to a folder as an {@code .eml} file, with its envelope recorded in an
 * {@code X-Mailgate-Sandbox-Envelope} header (Bcc recipients are only in the envelope).
 */
public final class SandboxSmtpServer implements AutoCloseable {

    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS");

    private final SMTPServer server;
    private final Path folder;
    private final AtomicLong sequence = new AtomicLong();

    public SandboxSmtpServer(SSLContext tls, XOAuth2Authentication authentication, Path folder) {
        this.folder = folder;
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the sandbox mail folder " + folder, e);
        }
        server = SMTPServer.port(0)
                .bindAddress(InetAddress.getLoopbackAddress())
                .hostName("localhost")
                .softwareName("Mailgate sandbox")
                .requireTLS()
                .startTlsSocketFactory(socket -> {
                    InetSocketAddress remote = (InetSocketAddress) socket.getRemoteSocketAddress();
                    SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(socket, remote.getHostString(),
                            socket.getPort(), true);
                    s.setUseClientMode(false);
                    s.setEnabledProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
                    return s;
                })
                .requireAuth()
                .authenticationHandlerFactory(authentication)
                .messageHandlerFactory(Store::new)
                .maxMessageSize(40 * 1024 * 1024)
                .connectionTimeout(60_000, java.util.concurrent.TimeUnit.MILLISECONDS)
                .build();
        server.start();
    }

    public int port() {
        return server.getPortAllocated();
    }

    public Path folder() {
        return folder;
    }

    @Override
    public void close() {
        server.stop();
    }

    /** One SMTP transaction: envelope, then the message streamed to disk. */
    private final class Store implements MessageHandler {
        private String from;
        private final List<String> recipients = new ArrayList<>();

        Store(MessageContext context) {
        }

        @Override
        public void from(String address) {
            this.from = address;
        }

        @Override
        public void recipient(String recipient) {
            recipients.add(recipient);
        }

        @Override
        public String data(InputStream data) throws RejectException, IOException {
            String name = LocalDateTime.now().format(STAMP) + "-" + sequence.incrementAndGet() + ".eml";
            Path tmp = folder.resolve("." + name + ".tmp");
            try (OutputStream out = Files.newOutputStream(tmp)) {
                String envelope = "X-Mailgate-Sandbox-Envelope: from=<" + from + ">; to=<"
                        + String.join(">, <", recipients) + ">\r\n";
                out.write(envelope.getBytes(StandardCharsets.US_ASCII));
                data.transferTo(out);
            }
            Files.move(tmp, folder.resolve(name), StandardCopyOption.ATOMIC_MOVE);
            return "2.0.0 OK queued as " + name + " [SANDBOX: stored in " + folder + ", nothing left this machine]";
        }

        @Override
        public void done() {
        }
    }
}
