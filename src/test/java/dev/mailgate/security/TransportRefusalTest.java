package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.app.MailgateConfiguration;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Transport refusals that {@code TransportSecurityTest} does not cover (it has the cleartext server, the untrusted
 * certificate and the host name mismatch): a server that speaks only TLS 1.0/1.1, the custom trust store (used, and
 * announced at start), and switches that would turn certificate checks off. Each test starts its own gateway
 * against real sockets and checks that no XOAUTH2 token reached the server.
 */
class TransportRefusalTest {

    private static final String HELLO = """
            {"to": "alice@example.com", "subject": "Hello", "text": "Hi"}
            """;

    @TempDir
    Path dir;

    /** The certificate Mailgate trusts (Entra's, and the SMTP server's where a test wants it trusted). */
    private final SelfSignedCertificate trusted = SelfSignedCertificate.forLocalhost();
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();
    private TestEntra entra;
    private Gateway gateway;
    private final List<AutoCloseable> servers = new ArrayList<>();

    @BeforeEach
    void start() {
        entra = new TestEntra(trusted, null);
        log.start();
        ((Logger) LoggerFactory.getLogger(MailgateConfiguration.class)).addAppender(log);
    }

    @AfterEach
    void stop() throws Exception {
        ((Logger) LoggerFactory.getLogger(MailgateConfiguration.class)).detachAppender(log);
        if (gateway != null) {
            gateway.close();
        }
        for (AutoCloseable server : servers) {
            server.close();
        }
        entra.close();
    }

    @Test
    void tls_1_0_and_1_1_only_server_is_refused_and_gets_no_token() throws Exception {
        OldTlsServer server = new OldTlsServer(trusted.serverContext(), "TLSv1", "TLSv1.1");
        servers.add(server);
        Map<String, String> properties = Gateway.realTenant(dir, entra, server.port(), trusted);
        properties.put("mailgate.delivery.max-attempts", "2");
        gateway = Gateway.start(dir, properties);
        gateway.drop("hello.json", HELLO);

        JsonNode error = gateway.awaitFailed("hello.json");

        assertThat(error.path("status").asText()).isEqualTo("failed");
        // Mailgate got as far as STARTTLS and offered TLS, but no handshake succeeded and no AUTH was sent
        assertThat(server.clientHellos()).isNotEmpty();
        assertThat(server.completedHandshakes()).isZero();
        assertThat(server.authLines()).isEmpty();
        // whatever the JVM allows: Mailgate itself offers nothing older than TLS 1.2 (0x0303)
        assertThat(server.clientHellos()).allSatisfy(versions -> assertThat(versions).isNotEmpty()
                .allMatch(v -> v == 0x0303 || v == 0x0304, "TLS 1.2 or 1.3"));
    }

    @Test
    void custom_trust_store_is_used_and_announced_loudly_at_start() {
        TestSmtpServer smtp = TestSmtpServer.withStartTls(trusted.serverContext(), entra.tokens());
        servers.add(smtp);
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), trusted);
        gateway = Gateway.start(dir, properties);
        gateway.drop("hello.json", HELLO);

        gateway.awaitSent("hello.json");

        assertThat(smtp.received()).hasSize(1);
        assertThat(log.list).filteredOn(e -> e.getLevel() == Level.WARN)
                .extracting(ILoggingEvent::getFormattedMessage)
                .anySatisfy(m -> assertThat(m).contains("trusting ONLY the certificates in",
                        Path.of(properties.get("mailgate.tls.truststore")).getFileName().toString(),
                        "mailgate.tls.truststore"));
    }

    @Test
    void trust_all_style_mailgate_settings_do_not_exist_and_an_untrusted_server_is_still_refused() {
        SelfSignedCertificate stranger = SelfSignedCertificate.forLocalhost();
        TestSmtpServer smtp = TestSmtpServer.withStartTls(stranger.serverContext(), entra.tokens());
        servers.add(smtp);
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), trusted);
        for (String key : List.of("mailgate.tls.trust-all", "mailgate.tls.trustAll", "mailgate.tls.insecure",
                "mailgate.tls.verify", "mailgate.smtp.trust-all", "mailgate.smtp.ssl.checkserveridentity",
                "mailgate.smtp.ssl.trust", "mail.smtp.ssl.trust", "mail.smtp.ssl.checkserveridentity")) {
            properties.put(key, key.endsWith("trust") ? "*" : key.endsWith("verify")
                    || key.endsWith("checkserveridentity") ? "false" : "true");
        }
        // Settings does not reject unknown keys: the gateway starts, and ignores them
        gateway = Gateway.start(dir, properties);
        gateway.drop("hello.json", HELLO);

        JsonNode error = gateway.awaitFailed("hello.json");

        assertThat(error.path("category").asText()).isEqualTo("configuration");
        assertThat(error.path("reason").asText()).contains("certificate is not trusted", "no token was sent");
        assertThat(smtp.saslResponses()).isEmpty();
        assertThat(smtp.received()).isEmpty();
    }

    @Test
    void camel_global_trust_all_certificates_does_not_reach_smtp_with_a_custom_trust_store() {
        SelfSignedCertificate stranger = SelfSignedCertificate.forLocalhost();
        TestSmtpServer smtp = TestSmtpServer.withStartTls(stranger.serverContext(), entra.tokens());
        servers.add(smtp);
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), trusted);
        properties.putAll(camelTrustAll());
        gateway = Gateway.start(dir, properties);
        gateway.drop("hello.json", HELLO);

        JsonNode error = gateway.awaitFailed("hello.json");

        assertThat(error.path("reason").asText()).contains("certificate is not trusted");
        assertThat(smtp.saslResponses()).isEmpty();
        assertThat(smtp.received()).isEmpty();
    }

    @Test
    void camel_global_trust_all_certificates_does_not_reach_smtp_with_the_jvm_trust_store() throws Exception {
        SelfSignedCertificate stranger = SelfSignedCertificate.forLocalhost();
        TestSmtpServer smtp = TestSmtpServer.withStartTls(stranger.serverContext(), entra.tokens());
        servers.add(smtp);
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), trusted);
        // production without mailgate.tls.truststore: SMTP verifies against the JVM's CAs
        properties.remove("mailgate.tls.truststore");
        properties.remove("mailgate.tls.truststore-password");
        properties.putAll(camelTrustAll());
        // Entra's test endpoint is reached through the JDK's default HTTPS socket factory then: trust it there,
        // for this test only (SMTP does not use that factory)
        SSLSocketFactory previous = HttpsURLConnection.getDefaultSSLSocketFactory();
        HttpsURLConnection.setDefaultSSLSocketFactory(clientTrusting(trusted));
        try {
            gateway = Gateway.start(dir, properties);
            gateway.drop("hello.json", HELLO);

            JsonNode error = gateway.awaitFailed("hello.json");

            assertThat(error.path("reason").asText()).contains("certificate is not trusted");
            assertThat(smtp.saslResponses()).isEmpty();
            assertThat(smtp.received()).isEmpty();
        } finally {
            HttpsURLConnection.setDefaultSSLSocketFactory(previous);
        }
    }

    /** Camel Main's own switch: a global SSL context that trusts every certificate, offered to the smtp component. */
    private static Map<String, String> camelTrustAll() {
        return Map.of("camel.ssl.enabled", "true",
                "camel.ssl.trustAllCertificates", "true",
                "camel.component.smtp.useGlobalSslContextParameters", "true",
                "camel.component.smtps.useGlobalSslContextParameters", "true");
    }

    private static SSLSocketFactory clientTrusting(SelfSignedCertificate certificate) throws Exception {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(certificate.trustStore());
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context.getSocketFactory();
    }

    /**
     * A submission server that offers STARTTLS and, after it, AUTH XOAUTH2, but speaks only the given (old) TLS
     * versions. It records the TLS versions each client hello offers, how many handshakes succeeded, and every AUTH
     * line it got.
     */
    static final class OldTlsServer implements AutoCloseable {
        private final ServerSocket socket;
        private final SSLContext tls;
        private final String[] protocols;
        private final List<List<Integer>> clientHellos = new CopyOnWriteArrayList<>();
        private final List<String> authLines = new CopyOnWriteArrayList<>();
        private final AtomicInteger handshakes = new AtomicInteger();

        OldTlsServer(SSLContext tls, String... protocols) throws IOException {
            this.tls = tls;
            this.protocols = protocols;
            this.socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread acceptor = new Thread(this::accept, "old-tls-smtp");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        List<List<Integer>> clientHellos() {
            return List.copyOf(clientHellos);
        }

        int completedHandshakes() {
            return handshakes.get();
        }

        List<String> authLines() {
            return List.copyOf(authLines);
        }

        private void accept() {
            while (!socket.isClosed()) {
                try {
                    Socket client = socket.accept();
                    Thread session = new Thread(() -> session(client), "old-tls-smtp-session");
                    session.setDaemon(true);
                    session.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void session(Socket client) {
            try (client) {
                client.setSoTimeout(15_000);
                InputStream in = client.getInputStream();
                OutputStream out = client.getOutputStream();
                write(out, "220 localhost ESMTP old TLS only");
                for (String line = readLine(in); line != null; line = readLine(in)) {
                    String command = line.toUpperCase(java.util.Locale.ROOT);
                    if (command.startsWith("EHLO") || command.startsWith("HELO")) {
                        write(out, "250-localhost\r\n250-STARTTLS\r\n250 8BITMIME");
                    } else if (command.startsWith("STARTTLS")) {
                        write(out, "220 2.0.0 Ready to start TLS");
                        overTls(client, in);
                        return;
                    } else if (command.startsWith("AUTH")) {
                        authLines.add(line);
                        write(out, "530 5.7.0 Must issue a STARTTLS command first");
                    } else if (command.startsWith("QUIT")) {
                        write(out, "221 Bye");
                        return;
                    } else {
                        write(out, "530 5.7.0 Must issue a STARTTLS command first");
                    }
                }
            } catch (IOException e) {
                // the client went away
            }
        }

        /** Reads the client hello as sent, records its versions, then answers it with the old versions only. */
        private void overTls(Socket client, InputStream in) throws IOException {
            DataInputStream data = new DataInputStream(in);
            byte[] header = new byte[5];
            data.readFully(header);
            byte[] body = new byte[((header[3] & 0xff) << 8) | (header[4] & 0xff)];
            data.readFully(body);
            clientHellos.add(offeredVersions(body));
            ByteArrayOutputStream record = new ByteArrayOutputStream();
            record.writeBytes(header);
            record.writeBytes(body);
            SSLSocket ssl = (SSLSocket) tls.getSocketFactory().createSocket(client,
                    new ByteArrayInputStream(record.toByteArray()), true);
            ssl.setEnabledProtocols(protocols);
            try {
                ssl.startHandshake();
            } catch (IOException e) {
                // refused, as it should be; whichever side gave up
                return;
            }
            handshakes.incrementAndGet();
            InputStream tlsIn = ssl.getInputStream();
            OutputStream tlsOut = ssl.getOutputStream();
            for (String line = readLine(tlsIn); line != null; line = readLine(tlsIn)) {
                String command = line.toUpperCase(java.util.Locale.ROOT);
                if (command.startsWith("EHLO")) {
                    write(tlsOut, "250-localhost\r\n250 AUTH XOAUTH2");
                } else if (command.startsWith("AUTH")) {
                    authLines.add(line);
                    write(tlsOut, "535 5.7.3 Authentication unsuccessful");
                } else if (command.startsWith("QUIT")) {
                    write(tlsOut, "221 Bye");
                    return;
                } else {
                    write(tlsOut, "503 5.5.1 Bad sequence");
                }
            }
        }

        /** The versions a TLS client hello offers: its supported_versions extension, else its legacy version. */
        static List<Integer> offeredVersions(byte[] handshake) {
            List<Integer> versions = new ArrayList<>();
            int p = 4;
            int legacy = u16(handshake, p);
            p += 2 + 32;
            p += 1 + (handshake[p] & 0xff);
            p += 2 + u16(handshake, p);
            p += 1 + (handshake[p] & 0xff);
            if (p + 2 <= handshake.length) {
                int end = p + 2 + u16(handshake, p);
                p += 2;
                while (p + 4 <= end) {
                    int type = u16(handshake, p);
                    int length = u16(handshake, p + 2);
                    if (type == 0x002b) {
                        for (int v = p + 5; v + 2 <= p + 4 + length; v += 2) {
                            int version = u16(handshake, v);
                            if ((version & 0x0f0f) != 0x0a0a) {
                                versions.add(version);
                            }
                        }
                        return versions;
                    }
                    p += 4 + length;
                }
            }
            versions.add(legacy);
            return versions;
        }

        private static int u16(byte[] b, int at) {
            return ((b[at] & 0xff) << 8) | (b[at + 1] & 0xff);
        }

        private static String readLine(InputStream in) throws IOException {
            StringBuilder line = new StringBuilder();
            for (int b = in.read(); b != -1; b = in.read()) {
                if (b == '\n') {
                    return line.toString().strip();
                }
                line.append((char) b);
            }
            return line.length() == 0 ? null : line.toString();
        }

        private static void write(OutputStream out, String reply) throws IOException {
            out.write((reply + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
