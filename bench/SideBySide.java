import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import jakarta.jms.Connection;
import jakarta.jms.MessageProducer;
import jakarta.jms.Session;
import jakarta.mail.Message;
import jakarta.mail.PasswordAuthentication;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;

import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.mail.MailAuthenticator;
import org.apache.camel.impl.DefaultCamelContext;

import com.microsoft.aad.msal4j.ClientCredentialFactory;
import com.microsoft.aad.msal4j.ClientCredentialParameters;
import com.microsoft.aad.msal4j.ConfidentialClientApplication;
import com.microsoft.aad.msal4j.IAuthenticationResult;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * The side-by-side benchmark (see side-by-side.sh). One JVM runs the SMTP submission server (STARTTLS + XOAUTH2,
 * checking every token) and the HTTPS token endpoint that MSAL4J calls, and, for the runs "at a distance", a proxy
 * that holds every byte the server sends for a fixed time. Each sender runs in a JVM of its own, one after the
 * other, against that same server:
 * <ol type="a">
 * <li>{@code raw}: Jakarta Mail on one connection, authenticated once, {@code sendMessage} in a loop: the limit;</li>
 * <li>{@code camel}: camel-mail's {@code smtp} producer as shipped, with an authenticator that asks MSAL4J for the
 * token: a connection, TLS handshake and AUTH per message;</li>
 * <li>{@code outbox}: the Mailgate jar, requests dropped into its outbox folder, timed to their arrival;</li>
 * <li>{@code jms}: the Mailgate jar, requests put on its queue by a JMS client, timed to their arrival.</li>
 * </ol>
 */
public class SideBySide {

    static final String MAILBOX = Gateway.SENDER;
    static final int WARM_UP = 50;
    /** BENCH_MODES=jms (say) runs only some of the senders, e.g. while profiling with BENCH_GATEWAY_OPTS. */
    static final List<String> MODES = List.of(System.getenv().getOrDefault("BENCH_MODES", "raw,camel,outbox,jms")
            .split(","));

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "run" -> run(Path.of(args[1]), Path.of(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]));
            case "raw" -> raw(args);
            case "camel" -> camel(args);
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    // ---- the orchestrator ----------------------------------------------------------------------------------------

    record Result(String mode, int messages, double seconds, List<Double> latencies, int tokenRequests,
            int connections, long peakRssKb) {
        double rate() {
            return messages / seconds;
        }
    }

    static void run(Path root, Path work, int count, int countAtDistance, int delayMs) throws Exception {
        SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
        try (TestEntra entra = new TestEntra(tls, null);
                TestSmtpServer smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens())) {
            Path trust = work.resolve("truststore.p12");
            tls.writeTrustStore(trust, "changeit");
            Map<Integer, List<Result>> all = new LinkedHashMap<>();
            for (int delay : delayMs == 0 ? new int[] {0} : new int[] {0, delayMs}) {
                int n = delay == 0 ? count : countAtDistance;
                try (DelayProxy proxy = delay == 0 ? null : new DelayProxy(smtp.port(), delay)) {
                    int port = proxy == null ? smtp.port() : proxy.port();
                    Bench bench = new Bench(root, work, tls, entra, smtp, port, trust);
                    List<Result> results = new ArrayList<>();
                    for (String mode : MODES) {
                        System.err.printf(Locale.ROOT, "%s, %d ms reply delay, %d messages...%n", mode, delay, n);
                        Result r = bench.run(mode + "-" + delay, mode, n);
                        System.err.printf(Locale.ROOT, "  %.1f msg/s%n", r.rate());
                        results.add(r);
                    }
                    all.put(delay, results);
                }
            }
            print(all, count, countAtDistance);
        }
    }

    static final class Bench {
        final Path root;
        final Path work;
        final SelfSignedCertificate tls;
        final TestEntra entra;
        final TestSmtpServer smtp;
        final int port;
        final Path trust;

        Bench(Path root, Path work, SelfSignedCertificate tls, TestEntra entra, TestSmtpServer smtp, int port,
                Path trust) {
            this.root = root;
            this.work = work;
            this.tls = tls;
            this.entra = entra;
            this.smtp = smtp;
            this.port = port;
            this.trust = trust;
        }

        Result run(String tag, String mode, int n) throws Exception {
            int tokensBefore = entra.requests();
            int connectionsBefore = smtp.connections();
            Result r = switch (mode) {
                case "raw", "camel" -> client(tag, mode, n);
                default -> gateway(tag, mode, n);
            };
            return new Result(r.mode(), r.messages(), r.seconds(), r.latencies(), entra.requests() - tokensBefore,
                    smtp.connections() - connectionsBefore, r.peakRssKb());
        }

        /** (a) and (b): a JVM of their own, reporting their timings on standard output. */
        Result client(String tag, String mode, int n) throws Exception {
            List<String> command = List.of(Gateway.javaBinary(), "-cp", System.getProperty("java.class.path"),
                    "-Djavax.net.ssl.trustStore=" + trust, "-Djavax.net.ssl.trustStorePassword=changeit",
                    root.resolve("bench/SideBySide.java").toString(), mode, Integer.toString(port), entra.authorityHost(),
                    tag, Integer.toString(n));
            Path out = work.resolve(tag + ".out");
            Process p = new ProcessBuilder(command).redirectOutput(out.toFile())
                    .redirectError(work.resolve(tag + ".err").toFile()).start();
            if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IllegalStateException(mode + " failed: " + Files.readString(work.resolve(tag + ".err")));
            }
            Map<String, String> values = new HashMap<>();
            for (String line : Files.readAllLines(out)) {
                String[] kv = line.split("=", 2);
                if (kv.length == 2) {
                    values.put(kv[0], kv[1]);
                }
            }
            List<Double> latencies = Arrays.stream(values.get("latencies").split(",")).map(Double::parseDouble)
                    .sorted().toList();
            long arrived = smtp.received().stream().filter(m -> m.recipients().get(0).startsWith(tag + "-")).count();
            if (arrived != n + WARM_UP) {
                throw new IllegalStateException(mode + ": " + arrived + " of " + (n + WARM_UP) + " arrived");
            }
            return new Result(mode, n, Double.parseDouble(values.get("seconds")), latencies, 0, 0,
                    Long.parseLong(values.get("rss")));
        }

        /** (c) and (d): the packaged jar, configured as for a real tenant served by the bench's servers. */
        Result gateway(String tag, String mode, int n) throws Exception {
            Path dir = Files.createDirectories(work.resolve(tag));
            int httpPort = Gateway.freePort();
            int brokerPort = Gateway.freePort();
            Map<String, String> env = Gateway.environment(Gateway.realTenant(dir, entra, port, tls));
            // Mailgate's own path: no pacing (one sender sends everything), the outbox's settle time kept short
            env.put("MAILGATE_LIMITS_MESSAGES_PER_MINUTE", "1000000");
            env.put("MAILGATE_OUTBOX_SETTLE_TIME", "100ms");
            env.put("MAILGATE_OUTBOX_POLL_INTERVAL", "50ms");
            env.put("MAILGATE_HTTP_PORT", Integer.toString(httpPort));
            env.put("MAILGATE_BROKER_PORT", Integer.toString(brokerPort));
            // the bench's own MAILGATE_* variables reach the gateway, to compare settings
            System.getenv().forEach((key, value) -> {
                if (key.startsWith("MAILGATE_")) {
                    env.put(key, value);
                }
            });
            List<String> command = new ArrayList<>(List.of(Gateway.javaBinary()));
            String options = System.getenv("BENCH_GATEWAY_OPTS");
            if (options != null && !options.isBlank()) {
                command.addAll(List.of(options.trim().split("\\s+")));
            }
            command.addAll(List.of("-jar", root.resolve("target/mailgate.jar").toString()));
            ProcessBuilder builder = new ProcessBuilder(command)
                    .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(dir.resolve("mailgate.log").toFile());
            builder.environment().keySet().removeIf(k -> k.startsWith("MAILGATE_"));
            builder.environment().putAll(env);
            Process gateway = builder.start();
            try {
                HttpClient http = HttpClient.newHttpClient();
                waitFor(Duration.ofSeconds(60), () -> ready(http, httpPort), gateway);
                Feeder feeder = mode.equals("outbox") ? new OutboxFeeder(dir.resolve("outbox"))
                        : new JmsFeeder(brokerPort, env.get("MAILGATE_BROKER_PASSWORD"));
                try (feeder) {
                    feeder.feed(tag + "-warm", WARM_UP);
                    waitFor(Duration.ofSeconds(120), () -> arrivals(tag + "-warm").size() == WARM_UP, gateway);
                    Map<Integer, Instant> fed = feeder.feed(tag, n);
                    waitFor(Duration.ofMinutes(20), () -> arrivals(tag).size() == n, gateway);
                    Map<Integer, Instant> arrived = arrivals(tag);
                    List<Double> latencies = new ArrayList<>();
                    Instant first = Collections.min(fed.values());
                    Instant last = Collections.max(arrived.values());
                    fed.forEach((i, at) -> latencies.add(Duration.between(at, arrived.get(i)).toNanos() / 1e6));
                    Collections.sort(latencies);
                    if (mode.equals("outbox")) {
                        Path sent = dir.resolve("outbox/.sent");
                        waitFor(Duration.ofSeconds(60), () -> count(sent, ".receipt.json") == n + WARM_UP, gateway);
                    }
                    return new Result(mode, n, Duration.between(first, last).toNanos() / 1e9, latencies, 0, 0,
                            peakRss(gateway.pid()));
                }
            } finally {
                gateway.destroy();
                gateway.waitFor(60, TimeUnit.SECONDS);
            }
        }

        /** Message number → arrival time, for the mails whose recipient carries the tag. */
        Map<Integer, Instant> arrivals(String tag) {
            Map<Integer, Instant> at = new HashMap<>();
            for (TestSmtpServer.Received m : smtp.received()) {
                String to = m.recipients().get(0);
                if (to.startsWith(tag + "-") && to.indexOf('@') > tag.length() + 1) {
                    String number = to.substring(tag.length() + 1, to.indexOf('@'));
                    if (number.chars().allMatch(Character::isDigit)) {
                        at.put(Integer.parseInt(number), m.at());
                    }
                }
            }
            return at;
        }
    }

    interface Feeder extends AutoCloseable {
        /** Hands over messages 0..n-1 addressed to {@code <tag>-<i>@example.com}; when each was handed over. */
        Map<Integer, Instant> feed(String tag, int n) throws Exception;

        @Override
        default void close() throws Exception {
        }
    }

    static String request(String tag, int i) {
        return "{\"to\": \"" + tag + "-" + i + "@example.com\", \"subject\": \"Benchmark " + i
                + "\", \"text\": \"Message " + i + ", a few lines of plain text as a report or an alert would have.\"}";
    }

    /** Writes each request under a hidden name and renames it into the outbox, as the README recommends. */
    record OutboxFeeder(Path outbox) implements Feeder {
        @Override
        public Map<Integer, Instant> feed(String tag, int n) throws IOException {
            Map<Integer, Instant> fed = new HashMap<>();
            for (int i = 0; i < n; i++) {
                Path hidden = outbox.resolve("." + tag + "-" + i + ".json");
                Files.writeString(hidden, request(tag, i), StandardCharsets.UTF_8);
                Files.move(hidden, outbox.resolve(tag + "-" + i + ".json"), StandardCopyOption.ATOMIC_MOVE);
                fed.put(i, Instant.now());
            }
            return fed;
        }
    }

    /** Puts each request on the gateway's queue over the broker's TCP acceptor, committing every 10 messages. */
    static final class JmsFeeder implements Feeder {
        final Connection connection;

        JmsFeeder(int port, String password) throws Exception {
            ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory("tcp://127.0.0.1:" + port);
            connection = factory.createConnection("mailgate", password);
        }

        @Override
        public Map<Integer, Instant> feed(String tag, int n) throws Exception {
            Map<Integer, Instant> fed = new HashMap<>();
            try (Session session = connection.createSession(true, Session.SESSION_TRANSACTED)) {
                MessageProducer producer = session.createProducer(session.createQueue("mailgate.outbox"));
                List<Integer> batch = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    producer.send(session.createTextMessage(request(tag, i)));
                    batch.add(i);
                    if (batch.size() == 10 || i == n - 1) {
                        session.commit();
                        Instant now = Instant.now();
                        batch.forEach(b -> fed.put(b, now));
                        batch.clear();
                    }
                }
            }
            return fed;
        }

        @Override
        public void close() throws Exception {
            connection.close();
        }
    }

    static boolean ready(HttpClient http, int port) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static long count(Path dir, String suffix) {
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(suffix)).count();
        } catch (IOException e) {
            return 0;
        }
    }

    static void waitFor(Duration limit, BooleanSupplier condition, Process process) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline || (process != null && !process.isAlive())) {
                throw new IllegalStateException("gave up waiting (process alive: "
                        + (process == null || process.isAlive()) + ")");
            }
            Thread.sleep(5);
        }
    }

    static void print(Map<Integer, List<Result>> all, int count, int countAtDistance) {
        Map<String, String> names = Map.of("raw", "(a) Jakarta Mail, one reused connection",
                "camel", "(b) stock camel-mail `smtp`, MSAL authenticator", "outbox", "(c) Mailgate, outbox folder",
                "jms", "(d) Mailgate, JMS queue");
        for (Map.Entry<Integer, List<Result>> e : all.entrySet()) {
            List<Result> results = e.getValue();
            double limit = rate(results, "raw");
            double stock = rate(results, "camel");
            System.out.printf(Locale.ROOT, "%n**%s** (%d messages each, after %d to warm up)%n%n",
                    e.getKey() == 0 ? "Loopback, no added latency"
                            : "Every server reply held back " + e.getKey() + " ms (a " + e.getKey() + " ms round trip)",
                    e.getKey() == 0 ? count : countAtDistance, WARM_UP);
            System.out.println("| sender | msg/s | × (a) | × (b) | latency p50 / p95 | token requests | SMTP connections "
                    + "| peak RSS |");
            System.out.println("|---|---|---|---|---|---|---|---|");
            for (Result r : results) {
                System.out.printf(Locale.ROOT, "| %s | %.1f | %.2f | %.1f | %s / %s ms | %d | %d | %d MB |%n",
                        names.get(r.mode()), r.rate(), r.rate() / limit, r.rate() / stock, ms(pct(r.latencies(), 50)),
                        ms(pct(r.latencies(), 95)), r.tokenRequests(), r.connections(), r.peakRssKb() / 1024);
            }
        }
        System.out.printf(Locale.ROOT, "%nMachine: %d cores, Java %s.%n", Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.version"));
    }

    static double rate(List<Result> results, String mode) {
        return results.stream().filter(r -> r.mode().equals(mode)).mapToDouble(Result::rate).findFirst()
                .orElse(Double.NaN);
    }

    static String ms(double v) {
        return v < 10 ? String.format(Locale.ROOT, "%.1f", v) : String.format(Locale.ROOT, "%.0f", v);
    }

    static double pct(List<Double> sorted, int p) {
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }

    static void daemon(Runnable task) {
        Thread thread = new Thread(task);
        thread.setDaemon(true);
        thread.start();
    }

    static long peakRss(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
        } catch (IOException e) {
            // not Linux
        }
        return 0;
    }

    /** Forwards a port, holding every chunk the server sends for {@code delay} before passing it on, in order. */
    static final class DelayProxy implements AutoCloseable {
        final ServerSocket listener;

        DelayProxy(int target, int delayMs) throws IOException {
            listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            daemon(() -> {
                while (!listener.isClosed()) {
                    try {
                        Socket client = listener.accept();
                        Socket server = new Socket(InetAddress.getLoopbackAddress(), target);
                        client.setTcpNoDelay(true);
                        server.setTcpNoDelay(true);
                        pump(client.getInputStream(), server.getOutputStream(), 0, client, server);
                        pump(server.getInputStream(), client.getOutputStream(), delayMs, client, server);
                    } catch (IOException e) {
                        // closed
                    }
                }
            });
        }

        int port() {
            return listener.getLocalPort();
        }

        static void pump(InputStream in, OutputStream out, int delayMs, Socket a, Socket b) {
            record Chunk(byte[] data, long due) {
            }
            BlockingQueue<Chunk> chunks = new LinkedBlockingQueue<>();
            daemon(() -> {
                byte[] buffer = new byte[16384];
                try {
                    for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                        chunks.put(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime() + delayMs * 1_000_000L));
                    }
                } catch (IOException | InterruptedException e) {
                    // closed
                }
                chunks.add(new Chunk(null, System.nanoTime() + delayMs * 1_000_000L));
            });
            daemon(() -> {
                try {
                    while (true) {
                        Chunk c = chunks.take();
                        long wait = c.due() - System.nanoTime();
                        if (wait > 0) {
                            TimeUnit.NANOSECONDS.sleep(wait);
                        }
                        if (c.data() == null) {
                            break;
                        }
                        out.write(c.data());
                        out.flush();
                    }
                } catch (IOException | InterruptedException e) {
                    // closed
                }
                try {
                    a.close();
                    b.close();
                } catch (IOException e) {
                    // closing
                }
            });
        }

        @Override
        public void close() throws IOException {
            listener.close();
        }
    }

    // ---- (a) and (b), each in a JVM of its own ---------------------------------------------------------------------

    static ConfidentialClientApplication msal(String authorityHost) throws Exception {
        return ConfidentialClientApplication.builder(TestEntra.CLIENT_ID,
                ClientCredentialFactory.createFromSecret(TestEntra.SECRET))
                .authority(authorityHost + "/" + TestEntra.TENANT + "/").instanceDiscovery(false)
                .validateAuthority(false).build();
    }

    static final String SCOPE = "https://outlook.office365.com/.default";

    static String token(ConfidentialClientApplication app) {
        return app.acquireToken(ClientCredentialParameters.builder(Set.of(SCOPE)).build()).join().accessToken();
    }

    static Properties smtpProperties(int port) {
        Properties p = new Properties();
        p.put("mail.smtp.host", "localhost");
        p.put("mail.smtp.port", Integer.toString(port));
        p.put("mail.smtp.auth", "true");
        p.put("mail.smtp.auth.mechanisms", "XOAUTH2");
        p.put("mail.smtp.starttls.enable", "true");
        p.put("mail.smtp.starttls.required", "true");
        p.put("mail.smtp.ssl.checkserveridentity", "true");
        return p;
    }

    static MimeMessage message(jakarta.mail.Session session, String tag, int i) throws Exception {
        MimeMessage m = new MimeMessage(session);
        m.setFrom(new InternetAddress(MAILBOX));
        m.setRecipient(Message.RecipientType.TO, new InternetAddress(tag + "-" + i + "@example.com"));
        m.setSubject("Benchmark " + i, "UTF-8");
        m.setText("Message " + i + ", a few lines of plain text as a report or an alert would have.", "UTF-8");
        m.saveChanges();
        return m;
    }

    interface Sender {
        void send(String tag, int i) throws Exception;
    }

    static void measure(String[] args, Sender sender) throws Exception {
        String tag = args[3];
        int n = Integer.parseInt(args[4]);
        for (int i = 0; i < WARM_UP; i++) {
            sender.send(tag + "-warm", i);
        }
        double[] latencies = new double[n];
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            sender.send(tag, i);
            latencies[i] = (System.nanoTime() - t0) / 1e6;
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.println("seconds=" + seconds);
        System.out.println("latencies=" + String.join(",", Arrays.stream(latencies).mapToObj(Double::toString).toList()));
        System.out.println("rss=" + peakRss(ProcessHandle.current().pid()));
    }

    /** (a) one connection, authenticated once with a token from MSAL4J, then sendMessage in a loop. */
    static void raw(String[] args) throws Exception {
        int port = Integer.parseInt(args[1]);
        jakarta.mail.Session session = jakarta.mail.Session.getInstance(smtpProperties(port));
        try (Transport transport = session.getTransport("smtp")) {
            transport.connect("localhost", port, MAILBOX, token(msal(args[2])));
            measure(args, (tag, i) -> {
                MimeMessage m = message(session, tag, i);
                transport.sendMessage(m, m.getAllRecipients());
            });
        }
    }

    /** (b) camel-mail's smtp producer as shipped: its sender connects, authenticates and closes per message. */
    static void camel(String[] args) throws Exception {
        int port = Integer.parseInt(args[1]);
        ConfidentialClientApplication app = msal(args[2]);
        try (CamelContext camel = new DefaultCamelContext()) {
            camel.getRegistry().bind("msal", new MailAuthenticator() {
                private IAuthenticationResult token;

                @Override
                public synchronized PasswordAuthentication getPasswordAuthentication() {
                    // the token is kept until 5 minutes before it expires, so (b) pays for its connections only:
                    // MSAL4J's own cache did not answer repeated client-credential requests against the test
                    // endpoint, and a token request per message would make (b) slower than it need be
                    if (token == null || token.expiresOnDate().getTime() < System.currentTimeMillis() + 300_000) {
                        token = app.acquireToken(ClientCredentialParameters.builder(Set.of(SCOPE)).build()).join();
                    }
                    return new PasswordAuthentication(MAILBOX, token.accessToken());
                }
            });
            Properties extra = smtpProperties(port);
            camel.getRegistry().bind("props", extra);
            camel.start();
            ProducerTemplate producer = camel.createProducerTemplate();
            String uri = "smtp://localhost:" + port + "?authenticator=#msal&additionalJavaMailProperties=#props"
                    + "&from=" + MAILBOX + "&useHeaderRecipients=true";
            measure(args, (tag, i) -> producer.sendBodyAndHeaders(uri,
                    "Message " + i + ", a few lines of plain text as a report or an alert would have.",
                    Map.of("To", tag + "-" + i + "@example.com", "Subject", "Benchmark " + i)));
        }
    }
}
