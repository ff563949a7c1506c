package dev.mailgate.support;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import org.apache.camel.CamelContext;
import org.apache.camel.main.Main;
import org.awaitility.Awaitility;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.app.GatewayMain;
import dev.mailgate.app.MailgateConfiguration;
import dev.mailgate.outcome.Journal;
import dev.mailgate.sandbox.SelfSignedCertificate;

/**
 * The real gateway (Camel Main, the repository's routes/ and templates/) started in-process for a test,
 * with its outbox and data folders in a temporary directory, pointed at test servers.
 */
public final class Gateway implements AutoCloseable {

    public static final String SENDER = "sender@contoso.test";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final Main main;

    private Gateway(Path dir, Map<String, String> properties) {
        this.dir = dir;
        this.main = GatewayMain.create(properties);
        try {
            main.start();
        } catch (Exception e) {
            throw new IllegalStateException("gateway did not start", e);
        }
    }

    /** Settings for a real (non-sandbox) tenant served by {@code entra} and {@code smtp}. */
    public static Map<String, String> realTenant(Path dir, TestEntra entra, int smtpPort, SelfSignedCertificate tls) {
        Path trust = dir.resolve("truststore.p12");
        tls.writeTrustStore(trust, "changeit");
        Map<String, String> p = new LinkedHashMap<>();
        p.put("mailgate.sandbox", "false");
        p.put("mailgate.entra.tenant-id", TestEntra.TENANT);
        p.put("mailgate.entra.client-id", TestEntra.CLIENT_ID);
        p.put("mailgate.entra.client-secret", TestEntra.SECRET);
        p.put("mailgate.entra.authority-host", entra.authorityHost());
        p.put("mailgate.smtp.host", "localhost");
        p.put("mailgate.smtp.port", Integer.toString(smtpPort));
        p.put("mailgate.tls.truststore", trust.toString());
        p.put("mailgate.tls.truststore-password", "changeit");
        p.put("mailgate.sender", SENDER);
        p.putAll(folders(dir));
        return p;
    }

    /** Folders in {@code dir}, quick polling and short retry delays. */
    public static Map<String, String> folders(Path dir) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("mailgate.outbox.dir", dir.resolve("outbox").toString());
        p.put("mailgate.data.dir", dir.resolve("data").toString());
        p.put("mailgate.outbox.settle-time", "200ms");
        p.put("mailgate.outbox.poll-interval", "50ms");
        p.put("mailgate.delivery.initial-delay", "50ms");
        p.put("mailgate.delivery.max-delay", "200ms");
        // tests that are not about pacing send as fast as they can
        p.put("mailgate.limits.messages-per-minute", "60000");
        // in-VM only: tests talk to the embedded broker from inside the JVM
        p.put("mailgate.broker.port", "0");
        p.put("mailgate.broker.password", Jms.PASSWORD);
        // tests look at the queues as the operator would
        p.put("mailgate.broker.operator-password", Jms.OPERATOR_PASSWORD);
        p.put("mailgate.http.port", Integer.toString(freePort()));
        return p;
    }

    /** The settings as the environment variables an operator exports (mailgate.smtp.host -> MAILGATE_SMTP_HOST). */
    public static Map<String, String> environment(Map<String, String> settings) {
        Map<String, String> env = new LinkedHashMap<>();
        settings.forEach((key, value) -> env.put(key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_'),
                value));
        return env;
    }

    /** The java launcher of the JVM running the tests, to start the packaged jar as its own process. */
    public static String javaBinary() {
        return Path.of(System.getProperty("java.home"), "bin", "java" + (File.separatorChar == '\\' ? ".exe" : ""))
                .toString();
    }

    public static int freePort() {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Gateway start(Path dir, Map<String, String> properties) {
        return new Gateway(dir, properties);
    }

    public CamelContext context() {
        return main.getCamelContext();
    }

    public Journal journal() {
        return context().getRegistry().lookupByNameAndType(MailgateConfiguration.JOURNAL_BEAN, Journal.class);
    }

    /** The journal entry of {@code id} once it reached {@code state}. */
    public Journal.Entry awaitState(String id, Journal.State state) {
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> journal().find(id).map(e -> e.state() == state).orElse(false));
        return journal().find(id).orElseThrow();
    }

    /** The failure categories that hold a mailbox (Failure.Category#holdsMailbox). */
    private static final java.util.Set<String> HOLDING = java.util.Set.of("auth", "mailbox-full", "sender-blocked");

    /**
     * Waits until sending as {@code mailbox} is held after an authentication failure or a full mailbox, and returns
     * the journal entry of its oldest waiting request: {@code RETRYING}, with the failure and its fix, not failed.
     */
    public Journal.Entry awaitHeld(String mailbox) {
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> {
            var waiting = journal().waiting(mailbox);
            return !waiting.isEmpty() && journal().find(waiting.get(0)).map(e -> e.state() == Journal.State.RETRYING
                    && HOLDING.contains(e.failureCategory())).orElse(false);
        });
        return journal().find(journal().waiting(mailbox).get(0)).orElseThrow();
    }

    /** Where an outbox file waits while its request is on the queue. */
    public Path queued(String name) {
        Path original = outbox().resolve(name);
        return original.resolveSibling(".queued").resolve(original.getFileName());
    }

    public Path outbox() {
        return dir.resolve("outbox");
    }

    /** Writes a file into the outbox (or a subfolder such as {@code reports/x.pdf}) as a user would. */
    public Path drop(String name, String content) {
        return drop(name, content.getBytes(StandardCharsets.UTF_8));
    }

    public Path drop(String name, byte[] content) {
        try {
            Path file = outbox().resolve(name);
            Files.createDirectories(file.getParent());
            Files.write(file, content);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path attachment(String name, byte[] content) {
        try {
            Path file = outbox().resolve("attachments").resolve(name);
            Files.createDirectories(file.getParent());
            return Files.write(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until {@code name} (relative to the outbox) has been sent and returns its receipt. */
    public JsonNode awaitSent(String name) {
        return awaitOutcome(name, ".sent", ".receipt.json");
    }

    /** Waits until {@code name} has failed and returns its error file. */
    public JsonNode awaitFailed(String name) {
        return awaitOutcome(name, ".failed", ".error.json");
    }

    private JsonNode awaitOutcome(String name, String folder, String suffix) {
        Path original = outbox().resolve(name);
        Path outcome = original.resolveSibling(folder).resolve(original.getFileName());
        Path record = original.resolveSibling(folder).resolve(original.getFileName() + suffix);
        Path other = original.resolveSibling(folder.equals(".sent") ? ".failed" : ".sent")
                .resolve(original.getFileName() + (folder.equals(".sent") ? ".error.json" : ".receipt.json"));
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() -> {
            if (Files.exists(other)) {
                throw new AssertionError(name + " ended in the other outcome folder: " + Files.readString(other));
            }
            // the entries themselves: a refused link is moved as it is, and may point nowhere
            return Files.exists(outcome, LinkOption.NOFOLLOW_LINKS) && Files.exists(record)
                    && !Files.exists(original, LinkOption.NOFOLLOW_LINKS);
        });
        try {
            return JSON.readTree(record.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        main.stop();
    }
}
