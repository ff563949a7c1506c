package dev.mailgate.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The one test fixture for tests of the packaged jar ({@code target/mailgate.jar}, built by {@code package}; failsafe
 * runs these tests after it) started as its own process, as an operator starts it: {@code java [options] -jar
 * mailgate.jar} in a temporary work folder, configured by environment variables only (the {@code MAILGATE_*} of the
 * test's own environment are removed first). {@link #realTenant()} also starts the token endpoint over HTTPS and the
 * STARTTLS + XOAUTH2 SMTP server of {@link MailgateExtension} (same certificate, {@link MailgateExtension#tls()}) and
 * points the jar at them; {@link #sandbox()} gives the jar nothing, as a newcomer runs it.
 * <p>
 * The jar is not started for the test: a test chooses its heap, settings or locale, writes the files a start must find,
 * then calls {@link #start()} (waits until the outbox route runs) or {@link #launch()} (returns at once, for a jar that
 * is to exit, or to be killed at a chosen point). Each start is a {@link Run} with its own log file; the fixture's
 * {@link #await}, {@link #stop()}, {@link #kill()} and {@link #logText()} act on the latest. Waiting fails at once,
 * with the log, when the jar exits; after a failed test the last lines of every run's log are printed. The teardown
 * kills whatever still runs (also when the test JVM itself is stopped), closes the servers and deletes the folder.
 * <pre>
 * &#64;RegisterExtension
 * final PackagedGateway mailgate = PackagedGateway.realTenant().jvm("-Xmx256m").with("mailgate.http.api-keys", KEY);
 * </pre>
 * As an instance field (the usual case) each test gets its own folder, servers and runs, and may change the settings
 * before it starts the jar; as a {@code static} field they are shared by the class.
 * <p>
 * Why not a mode of {@link MailgateExtension}: that one runs the gateway in this JVM and hands out its Camel context,
 * journal and logback events; a separate process has none of them, but has a heap, a locale, an exit code and signals.
 * The two share the servers, the certificate and {@link Gateway#realTenant}'s settings, not an API.
 */
public final class PackagedGateway implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
        AfterEachCallback {

    /** The jar under test ({@code -Dmailgate.jar}, set by the pom for failsafe). */
    public static final Path JAR = Path.of(System.getProperty("mailgate.jar", "target/mailgate.jar")).toAbsolutePath();
    /** How long a JVM start until the outbox route runs may take on a loaded build machine. */
    public static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    /** How long a graceful stop may take: longer than mailgate.delivery.shutdown-timeout (30s) and the cut after it. */
    public static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    /** A one-shot command's bound. */
    public static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(90);
    /** Short, so that a crash test kills at the point it waited for and not later; the conditions are cheap. */
    private static final long POLL_MILLIS = 5;
    /** Camel's log line once the outbox route runs: the gateway takes requests from every channel. */
    private static final String STARTED = "Started outbox";
    private static final int TAIL_LINES = 80;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every process any fixture started and that may still run: killed if the test JVM is stopped mid-test. */
    private static final Set<Process> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(Process::destroyForcibly),
                "packaged-gateway-reaper"));
    }

    private final boolean tenant;
    private final Map<String, String> overrides = new LinkedHashMap<>();
    private final Map<String, String> variables = new LinkedHashMap<>();
    private final List<String> leftOut = new ArrayList<>();
    private final List<String> jvmOptions = new ArrayList<>();
    private final List<Run> runs = new ArrayList<>();
    private boolean perClass;
    private Path dir;
    private Path logs;
    private Map<String, String> defaults = Map.of();
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Http http;
    private int httpPort;

    private PackagedGateway(boolean tenant) {
        this.tenant = tenant;
    }

    /** A jar sending as a real tenant would, through this fixture's token endpoint and SMTP server. */
    public static PackagedGateway realTenant() {
        return new PackagedGateway(true);
    }

    /** A jar with no settings and no servers: the defaults, sandbox mode, HTTP on port 8025. */
    public static PackagedGateway sandbox() {
        return new PackagedGateway(false);
    }

    /**
     * A setting, passed as its environment variable ({@code mailgate.smtp.host} -> {@code MAILGATE_SMTP_HOST}) to
     * every run started after this call; over {@link Gateway#realTenant}'s for {@link #realTenant()}.
     */
    public PackagedGateway with(String key, String value) {
        overrides.put(key, value);
        return this;
    }

    /** Leaves out the fixture's default settings whose key starts with one of these: the jar's own defaults apply. */
    public PackagedGateway without(String... keyPrefixes) {
        leftOut.addAll(Arrays.asList(keyPrefixes));
        return this;
    }

    /** An environment variable of every later run, as given ({@code MAILGATE_LOG_LEVEL}, {@code TZ}). */
    public PackagedGateway env(String name, String value) {
        variables.put(name, value);
        return this;
    }

    /** The locale of every later run ({@code LANG} and {@code LC_ALL}); otherwise the test JVM's environment's. */
    public PackagedGateway locale(String locale) {
        return env("LANG", locale).env("LC_ALL", locale);
    }

    /** JVM options of every later run, after those given before: {@code -Xmx256m}, {@code -Xshare:on}. */
    public PackagedGateway jvm(String... options) {
        jvmOptions.addAll(Arrays.asList(options));
        return this;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        perClass = true;
        setUp();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (perClass) {
            tearDown(context);
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        if (!perClass) {
            setUp();
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (!perClass) {
            tearDown(context);
        }
    }

    private void setUp() throws IOException {
        dir = Files.createTempDirectory("mailgate-it");
        logs = Files.createDirectories(dir.resolve("logs"));
        if (tenant) {
            entra = new TestEntra(MailgateExtension.tls(), null);
            smtp = TestSmtpServer.withStartTls(MailgateExtension.tls().serverContext(), entra.tokens());
            defaults = Gateway.realTenant(dir, entra, smtp.port(), MailgateExtension.tls());
        }
    }

    private void tearDown(ExtensionContext context) {
        try {
            for (Run run : runs) {
                run.destroy();
            }
            if (context.getExecutionException().isPresent()) {
                for (Run run : runs) {
                    System.out.println("---- " + context.getDisplayName() + ": " + run.log().getFileName()
                            + ", last lines:\n" + run.tail(TAIL_LINES));
                }
            }
        } finally {
            if (smtp != null) {
                smtp.close();
            }
            if (entra != null) {
                entra.close();
            }
            MailgateExtension.deleteQuietly(dir);
        }
    }

    /** Starts the jar and waits until its outbox route runs; fails with its log if it exits or takes too long. */
    public Run start() throws Exception {
        Run run = launch();
        run.await(START_TIMEOUT, () -> run.logText().contains(STARTED));
        return run;
    }

    /** Starts the jar and returns at once: for a jar that should exit, or be killed at a chosen point. */
    public Run launch() throws IOException {
        Path log = logs.resolve("run-" + (runs.size() + 1) + ".log");
        ProcessBuilder builder = new ProcessBuilder(command()).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        scrub(builder.environment());
        builder.environment().putAll(environment());
        Run run = new Run(builder.start(), log);
        runs.add(run);
        return run;
    }

    /** Stops the latest run and starts the jar again on the same folders. */
    public Run restart() throws Exception {
        stop();
        return start();
    }

    /**
     * {@code java -jar mailgate.jar args...} as a one-shot command, with exactly {@code environment} (this fixture's
     * is {@link #environment()}; {@code Map.of()} is an operator who exported nothing) and no standard input.
     */
    public Result command(Map<String, String> environment, String... args) throws Exception {
        List<String> command = command();
        command.addAll(List.of(args));
        Path out = Files.createTempFile(logs, "out", ".txt");
        Path err = Files.createTempFile(logs, "err", ".txt");
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectOutput(out.toFile())
                .redirectError(err.toFile());
        scrub(builder.environment());
        builder.environment().putAll(environment);
        Process process = builder.start();
        LIVE.add(process);
        try {
            process.getOutputStream().close();
            if (!process.waitFor(COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                throw new AssertionError("mailgate " + String.join(" ", args) + " did not finish within "
                        + COMMAND_TIMEOUT + "; its output:\n" + read(out) + read(err));
            }
        } finally {
            process.destroyForcibly();
            LIVE.remove(process);
        }
        return new Result(process.exitValue(), read(out), read(err));
    }

    /** What a one-shot command printed, and its exit code. */
    public record Result(int code, String out, String err) {
        public String all() {
            return out + "\n" + err;
        }
    }

    private List<String> command() {
        List<String> command = new ArrayList<>(List.of(Gateway.javaBinary()));
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", JAR.toString()));
        return command;
    }

    /** The test's own Mailgate settings are not the jar's; nor is its NO_COLOR (the CLI's colour choice). */
    private static void scrub(Map<String, String> environment) {
        environment.keySet().removeIf(name -> name.startsWith("MAILGATE_") || name.equals("NO_COLOR"));
    }

    /** The settings a run started now gets (a copy). */
    public Map<String, String> settings() {
        Map<String, String> settings = new LinkedHashMap<>(defaults);
        settings.keySet().removeIf(key -> leftOut.stream().anyMatch(key::startsWith));
        settings.putAll(overrides);
        return settings;
    }

    /** The environment variables a run started now gets, on top of the test JVM's without its MAILGATE_* (a copy). */
    public Map<String, String> environment() {
        Map<String, String> environment = Gateway.environment(settings());
        environment.putAll(variables);
        return environment;
    }

    /** An HTTP client of the API on {@code mailgate.http.port} (8025 when not set). */
    public Http http() {
        int port = Integer.parseInt(settings().getOrDefault("mailgate.http.port", "8025"));
        if (http == null || httpPort != port) {
            http = new Http(port);
            httpPort = port;
        }
        return http;
    }

    /** The jar's working directory: {@code outbox/} and {@code data/} are here; the run logs in {@code logs/}. */
    public Path dir() {
        return dir;
    }

    public TestSmtpServer smtp() {
        if (smtp == null) {
            throw new IllegalStateException("a sandbox() fixture has no SMTP server");
        }
        return smtp;
    }

    public TestEntra entra() {
        if (entra == null) {
            throw new IllegalStateException("a sandbox() fixture has no token endpoint");
        }
        return entra;
    }

    /**
     * Writes a request file into {@code outbox/} as a careful script does: under a hidden name (which the outbox
     * skips) first, then renamed into place, so that the gateway never reads half of it.
     */
    public Path drop(String name, String content) throws IOException {
        Path outbox = Files.createDirectories(dir.resolve("outbox"));
        Path hidden = Files.writeString(outbox.resolve("." + name + ".part"), content);
        return Files.move(hidden, outbox.resolve(name), StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Waits until {@code outbox/name} has been sent and returns its receipt; fails at once, with its error file, if
     * it failed instead, and with the log if the jar exits or {@code timeout} passes.
     */
    public JsonNode awaitSent(String name, Duration timeout) throws Exception {
        Path receipt = dir.resolve("outbox/.sent").resolve(name + ".receipt.json");
        Path error = dir.resolve("outbox/.failed").resolve(name + ".error.json");
        await(timeout, () -> {
            if (Files.exists(error)) {
                throw new AssertionError(name + " failed: " + read(error));
            }
            return Files.exists(receipt);
        });
        return JSON.readTree(receipt.toFile());
    }

    /** Every run so far, in order. */
    public List<Run> runs() {
        return List.copyOf(runs);
    }

    /** The latest run. */
    public Run run() {
        if (runs.isEmpty()) {
            throw new IllegalStateException("the jar has not been started");
        }
        return runs.get(runs.size() - 1);
    }

    /** {@link Run#await} of the latest run. */
    public void await(Duration timeout, Condition condition) throws Exception {
        run().await(timeout, condition);
    }

    /** {@link Run#stop()} of the latest run. */
    public String stop() throws InterruptedException {
        return run().stop();
    }

    /** {@link Run#kill()} of the latest run. */
    public void kill() throws InterruptedException {
        run().kill();
    }

    /** The latest run's log file. */
    public Path log() {
        return run().log();
    }

    /** The latest run's output so far. */
    public String logText() {
        return run().logText();
    }

    /** What a test waits for; may throw (an assertion that must hold meanwhile, an I/O error). */
    @FunctionalInterface
    public interface Condition {
        boolean holds() throws Exception;
    }

    /** One start of the jar: its process and its log (standard output and standard error). */
    public static final class Run {

        private final Process process;
        private final Path log;

        private Run(Process process, Path log) {
            this.process = process;
            this.log = log;
            LIVE.add(process);
        }

        public Process process() {
            return process;
        }

        public boolean isAlive() {
            return process.isAlive();
        }

        public Path log() {
            return log;
        }

        /** The output so far; bytes that are not UTF-8 (a run under the C locale) become U+FFFD, not an error. */
        public String logText() {
            return read(log);
        }

        /**
         * Waits until {@code condition} holds; fails at once, with the log, if the jar exits (an OutOfMemoryError with
         * {@code -XX:+ExitOnOutOfMemoryError}, a configuration error), and with the log after {@code timeout}.
         */
        public void await(Duration timeout, Condition condition) throws Exception {
            if (!holdsWithin(timeout, condition)) {
                throw new AssertionError("waited " + timeout + "; the gateway's log:\n" + logText());
            }
        }

        /** True once {@code condition} holds, false after {@code timeout}; fails at once, with the log, if it exits. */
        public boolean holdsWithin(Duration timeout, Condition condition) throws Exception {
            long end = System.nanoTime() + timeout.toNanos();
            while (!condition.holds()) {
                if (!process.isAlive()) {
                    throw new AssertionError("the gateway exited with " + process.exitValue() + "; its log:\n"
                            + logText());
                }
                if (System.nanoTime() > end) {
                    return false;
                }
                Thread.sleep(POLL_MILLIS);
            }
            return true;
        }

        /** SIGTERM (Camel's graceful shutdown); asserts the jar exits within {@link #STOP_TIMEOUT}; its whole log. */
        public String stop() throws InterruptedException {
            return stop(STOP_TIMEOUT);
        }

        /** SIGTERM; asserts the jar exits within {@code timeout}; its whole log. */
        public String stop(Duration timeout) throws InterruptedException {
            process.destroy();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("the gateway did not stop within " + timeout + " after SIGTERM; its log:\n"
                        + logText());
            }
            LIVE.remove(process);
            return logText();
        }

        /** SIGKILL, as a crash or {@code kill -9}: nothing of the jar's runs after it; waits until it is gone. */
        public void kill() throws InterruptedException {
            process.destroyForcibly();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError("the gateway was not gone 30 s after SIGKILL");
            }
            LIVE.remove(process);
        }

        private void destroy() {
            if (process.isAlive()) {
                process.destroyForcibly();
                try {
                    process.waitFor(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            LIVE.remove(process);
        }

        private String tail(int lines) {
            try {
                List<String> all = List.of(logText().split("\n"));
                return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
            } catch (UncheckedIOException e) {
                return "(" + e.getCause() + ")";
            }
        }
    }

    /** The file as UTF-8, leniently; a file that cannot be read fails the test (no false "does not contain"). */
    private static String read(Path file) {
        try {
            return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
