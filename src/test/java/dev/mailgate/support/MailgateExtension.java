package dev.mailgate.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import dev.mailgate.sandbox.SelfSignedCertificate;

/**
 * The one test fixture for tests that need the whole gateway: a token endpoint over real HTTPS (MSAL4J calls it with
 * its own HTTP client), a STARTTLS + XOAUTH2 SMTP server that checks the exact SASL string, and the real gateway
 * (Camel Main, the repository's routes and templates) in a temporary folder, pointed at both. Everything the gateway
 * logs while it runs is captured, so a test can assert what an operator reads and that no secret is in it.
 * <p>
 * As a {@code static} field the three run for the whole class; as an instance field, for each test:
 * <pre>
 * &#64;RegisterExtension
 * static final MailgateExtension mailgate = MailgateExtension.realTenant().with("mailgate.http.api-keys", KEY);
 * </pre>
 * {@link #prepare(Consumer)} runs before the gateway starts (files a start must find), {@link #restart()} stops it
 * and starts it again on the same folders.
 */
public final class MailgateExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
        AfterEachCallback {

    /** The API key every fixture's gateway accepts, unless a test sets {@code mailgate.http.api-keys} itself. */
    public static final String API_KEY = "fixture-api-key-0123456789abcdef";

    private static SelfSignedCertificate sharedTls;

    private final Map<String, String> overrides = new LinkedHashMap<>();
    private final Map<String, String> folders = new LinkedHashMap<>();
    private final List<Consumer<Path>> preparations = new ArrayList<>();
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();
    private X509Certificate clientCertificate;
    private Duration smtpIdleTimeout;
    private boolean perClass;
    private Path dir;
    private Map<String, String> properties;
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Gateway gateway;
    private Http http;

    private MailgateExtension() {
    }

    /** A gateway sending as a real tenant would: through the test token endpoint and SMTP server. */
    public static MailgateExtension realTenant() {
        return new MailgateExtension();
    }

    /** A setting of this fixture's gateway (applied over the defaults of {@link Gateway#realTenant}). */
    public MailgateExtension with(String key, String value) {
        overrides.put(key, value);
        return this;
    }

    /** A setting that is a folder inside the test's work folder ({@code relative} to it). */
    public MailgateExtension withFolder(String key, String relative) {
        folders.put(key, relative);
        return this;
    }

    /**
     * The shipped routes and templates, and beside them these example routes from {@code examples/routes/} (file
     * names) with every template from {@code examples/templates/}: the files as the README tells a user to copy them.
     */
    public MailgateExtension withExamples(String... routeFiles) {
        withFolder("mailgate.routes.dir", "routes");
        withFolder("mailgate.templates.dir", "templates");
        return prepare(dir -> {
            try {
                Path routes = Files.createDirectories(dir.resolve("routes"));
                Path templates = Files.createDirectories(dir.resolve("templates"));
                copyAll(Path.of("routes"), routes);
                copyAll(Path.of("templates"), templates);
                copyAll(Path.of("examples/templates"), templates);
                for (String file : routeFiles) {
                    Files.copy(Path.of("examples/routes").resolve(file), routes.resolve(file),
                            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    private static void copyAll(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.list(from)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                Files.copy(file, to.resolve(file.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** The token endpoint also accepts this certificate as the app's credential (besides {@link TestEntra#SECRET}). */
    public MailgateExtension withClientCertificate(X509Certificate certificate) {
        clientCertificate = certificate;
        return this;
    }

    /** The SMTP server hangs up on a connection that has been silent for {@code idleTimeout}, as Exchange does. */
    public MailgateExtension withSmtpIdleTimeout(Duration idleTimeout) {
        smtpIdleTimeout = idleTimeout;
        return this;
    }

    /**
     * The gateway's JMS consumers wait at most 100 ms for a message before they look again (Camel's default is 1 s),
     * so that stopping the gateway does not wait up to a second for them: for classes that start several gateways.
     */
    public MailgateExtension withQuickStop() {
        return with("camel.component.jms.receiveTimeout", "100");
    }

    /** Something to do in the work folder before the gateway starts (each start, restarts included). */
    public MailgateExtension prepare(Consumer<Path> step) {
        preparations.add(step);
        return this;
    }

    /** The test certificate of every fixture (localhost, 127.0.0.1): made once, it takes a moment. */
    public static synchronized SelfSignedCertificate tls() {
        if (sharedTls == null) {
            sharedTls = SelfSignedCertificate.forLocalhost();
        }
        return sharedTls;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        perClass = true;
        start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (perClass) {
            stop();
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) throws Exception {
        if (!perClass) {
            start();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (!perClass) {
            stop();
        }
    }

    private void start() throws IOException {
        dir = Files.createTempDirectory("mailgate-test");
        entra = new TestEntra(tls(), clientCertificate);
        smtp = smtpIdleTimeout == null ? TestSmtpServer.withStartTls(tls().serverContext(), entra.tokens())
                : TestSmtpServer.withStartTls(tls().serverContext(), entra.tokens(), smtpIdleTimeout);
        properties = Gateway.realTenant(dir, entra, smtp.port(), tls());
        properties.put("mailgate.http.api-keys", API_KEY);
        properties.putAll(overrides);
        folders.forEach((key, relative) -> properties.put(key, dir.resolve(relative).toString()));
        http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));
        log.list.clear();
        log.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(log);
        startGateway();
    }

    private void startGateway() {
        preparations.forEach(step -> step.accept(dir));
        gateway = Gateway.start(dir, properties);
    }

    /** Stops the gateway and starts it again on the same folders, broker journal and delivery journal. */
    public Gateway restart() {
        gateway.close();
        startGateway();
        return gateway;
    }

    /**
     * Stops the gateway, does {@code whileStopped} in the work folder (what must happen while nothing runs on it, such
     * as another broker on its journal), and starts the gateway again on the same folders.
     */
    public Gateway restart(Consumer<Path> whileStopped) {
        gateway.close();
        whileStopped.accept(dir);
        startGateway();
        return gateway;
    }

    private void stop() {
        try {
            if (gateway != null) {
                gateway.close();
            }
        } finally {
            ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(log);
            log.stop();
            if (smtp != null) {
                smtp.close();
            }
            if (entra != null) {
                entra.close();
            }
            deleteQuietly(dir);
        }
    }

    public Gateway gateway() {
        return gateway;
    }

    public TestSmtpServer smtp() {
        return smtp;
    }

    public TestEntra entra() {
        return entra;
    }

    /** An HTTP client of this gateway's API. */
    public Http http() {
        return http;
    }

    /** The work folder: {@code outbox/}, {@code data/}. */
    public Path dir() {
        return dir;
    }

    /** The settings the gateway was started with. */
    public Map<String, String> properties() {
        return properties;
    }

    /** Every line logged since the fixture started, formatted as an operator reads it (message, then any stack trace). */
    public synchronized List<String> logLines() {
        List<String> lines = new ArrayList<>();
        for (ILoggingEvent event : List.copyOf(log.list)) {
            StringBuilder line = new StringBuilder(event.getLevel() + " " + event.getLoggerName() + " "
                    + event.getFormattedMessage());
            for (var cause = event.getThrowableProxy(); cause != null; cause = cause.getCause()) {
                line.append(" | ").append(cause.getClassName()).append(": ").append(cause.getMessage());
            }
            lines.add(line.toString());
        }
        return lines;
    }

    /** Everything logged so far as one text. */
    public String logText() {
        return String.join("\n", logLines());
    }

    /** Deletes {@code root} and what is in it, as far as it can: a test's temporary folder. */
    public static void deleteQuietly(Path root) {
        if (root == null) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // a file the test made unreadable or a folder still in use: the temp folder is the OS's to clear
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // as above
        }
    }
}
