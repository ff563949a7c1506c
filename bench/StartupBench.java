import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Start-up benchmark (see startup-bench.sh): for each run, launches the packaged gateway in a fresh empty
 * directory (cold: broker journal, H2 journal and secrets are all made) and then once more in the same directory
 * (warm), and measures the wall time from launching {@code java -jar} until {@code GET /health/ready} answers
 * {@code 200}, polled every 20 ms; also the time until the (text) log says the routes started, the gateway's CPU
 * time and its peak RSS at that moment. Each gateway is stopped with SIGTERM and waited for before the next one
 * starts. When the class data sharing archive that {@code package} writes ({@code target/mailgate.jsa}) is given,
 * every run does the same again with {@code -XX:SharedArchiveFile} (the README's command). The machine's load
 * average is printed too: on 2 cores, start-up is CPU-bound, and other processes stretch it. Prints a Markdown
 * summary. JDK only, run as a single-file program.
 */
public class StartupBench {

    private static final Pattern LOG_TIME = Pattern.compile("^(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}) ");
    private static final DateTimeFormatter LOG_FORMAT = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");

    record Start(double readyMs, double routesMs, double cpuMs, double rssMb) {
    }

    public static void main(String[] args) throws Exception {
        Path jar = Path.of(args[0]).toAbsolutePath();
        int runs = Integer.parseInt(args[1]);
        Path archive = args.length > 2 ? Path.of(args[2]).toAbsolutePath() : null;
        List<String> plain = List.of();
        List<String> shared = archive == null ? null : List.of("-XX:SharedArchiveFile=" + archive, "-Xshare:on");
        boolean keep = System.getenv("KEEP") != null;
        // load the polling code before the first measured launch, so the first run does not pay for it
        poll(freePort());

        String loadBefore = loadAverage();
        List<Start> cold = new ArrayList<>();
        List<Start> warm = new ArrayList<>();
        List<Start> coldShared = new ArrayList<>();
        List<Start> warmShared = new ArrayList<>();
        for (int i = 1; i <= runs; i++) {
            for (List<String> options : shared == null ? List.of(plain) : List.of(plain, shared)) {
                Path work = Files.createTempDirectory("mailgate-startup-");
                Start first = start(jar, options, work);
                Start second = start(jar, options, work);
                (options == plain ? cold : coldShared).add(first);
                (options == plain ? warm : warmShared).add(second);
                System.err.printf(Locale.ROOT, "run %d%s: cold %.0f ms, warm %.0f ms%n", i,
                        options == plain ? "" : " (archive)", first.readyMs, second.readyMs);
                if (keep) {
                    System.err.println("kept " + work);
                } else {
                    delete(work);
                }
            }
        }

        List<List<Start>> columns = shared == null ? List.of(cold, warm) : List.of(cold, warm, coldShared, warmShared);
        System.out.println("| measure (" + runs + " runs, min / median / max) | `java -jar`, cold: empty directory "
                + "| `java -jar`, warm: second start in the same directory"
                + (shared == null ? "" : " | with the archive, cold | with the archive, warm") + " |");
        System.out.println("|---|---|---|" + (shared == null ? "" : "---|---|"));
        row("launch → `/health/ready` 200", columns, Start::readyMs, "%.2f s", 1000);
        row("launch → routes started (log)", columns, Start::routesMs, "%.2f s", 1000);
        row("CPU time (user + system) at ready", columns, Start::cpuMs, "%.1f s", 1000);
        row("peak RSS at ready", columns, Start::rssMb, "%.0f MB", 1);
        System.out.println("| machine | " + Runtime.getRuntime().availableProcessors() + " cores, Java "
                + System.getProperty("java.version") + " | load average (1 min) " + loadBefore + " before, "
                + loadAverage() + " after |" + (shared == null ? "" : " | |"));
    }

    private static Start start(Path jar, List<String> options, Path work) throws Exception {
        int httpPort = freePort();
        int brokerPort = freePort();
        Path log = work.resolve("mailgate.log");
        List<String> command = new ArrayList<>(List.of("java"));
        command.addAll(options);
        command.addAll(List.of("-jar", jar.toString()));
        ProcessBuilder builder = new ProcessBuilder(command).directory(work.toFile())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().put("MAILGATE_HTTP_PORT", Integer.toString(httpPort));
        builder.environment().put("MAILGATE_BROKER_PORT", Integer.toString(brokerPort));
        long logFrom = Files.exists(log) ? Files.size(log) : 0;

        long launchedAtMillis = System.currentTimeMillis();
        long launched = System.nanoTime();
        Process gateway = builder.start();
        try {
            long deadline = launched + TimeUnit.SECONDS.toNanos(60);
            while (poll(httpPort) != 200) {
                if (!gateway.isAlive()) {
                    throw new IllegalStateException("the gateway exited with " + gateway.exitValue() + "; see " + log);
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("not ready after 60 s; see " + log);
                }
                Thread.sleep(20);
            }
            double readyMs = (System.nanoTime() - launched) / 1e6;
            double cpu = cpuMs(gateway.pid());
            double rss = peakRssMb(gateway.pid());
            return new Start(readyMs, routesStarted(log, logFrom) - launchedAtMillis, cpu, rss);
        } finally {
            gateway.destroy(); // SIGTERM: Camel shuts down gracefully
            if (!gateway.waitFor(60, TimeUnit.SECONDS)) {
                gateway.destroyForcibly().waitFor();
            }
        }
    }

    /** The status of {@code GET /health/ready}, or 0 while nothing listens. Plain HTTP/1.1 over a socket. */
    private static int poll(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            byte[] status = in.readNBytes(12); // "HTTP/1.1 200"
            return status.length == 12 ? Integer.parseInt(new String(status, 9, 3, StandardCharsets.US_ASCII)) : 0;
        } catch (IOException e) {
            return 0; // not listening yet, or closed the connection while starting
        }
    }

    /** When the log (from {@code from} on) says Camel's routes started, as epoch milliseconds. */
    private static double routesStarted(Path log, long from) throws IOException {
        byte[] bytes = Files.readAllBytes(log);
        String text = new String(bytes, (int) from, bytes.length - (int) from, StandardCharsets.UTF_8);
        for (String line : text.split("\n")) {
            if (line.contains("AbstractCamelContext") && line.contains(") started in ")) {
                Matcher m = LOG_TIME.matcher(line);
                if (m.find()) {
                    return LocalDateTime.parse(m.group(1), LOG_FORMAT).atZone(ZoneId.systemDefault()).toInstant()
                            .toEpochMilli();
                }
            }
        }
        return Double.NaN;
    }

    /** User + system CPU time of the process so far (less sensitive than wall time to other load). */
    private static double cpuMs(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // fields 14 and 15 of proc(5), counted from the state (field 3) here; in clock ticks, 100 a second
            return (Long.parseLong(fields[11]) + Long.parseLong(fields[12])) * 10.0;
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    private static double peakRssMb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux
        }
        return Double.NaN;
    }

    private static void row(String name, List<List<Start>> columns, ToDoubleFunction<Start> value, String format,
            double divisor) {
        StringBuilder line = new StringBuilder("| " + name + " |");
        for (List<Start> column : columns) {
            line.append(' ').append(stats(column, value, format, divisor)).append(" |");
        }
        System.out.println(line);
    }

    private static String stats(List<Start> starts, ToDoubleFunction<Start> value, String format, double divisor) {
        double[] sorted = starts.stream().mapToDouble(value).map(v -> v / divisor).sorted().toArray();
        int n = sorted.length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        return String.format(Locale.ROOT, format + " / **" + format + "** / " + format, sorted[0], median,
                sorted[n - 1]);
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException e) {
            return "n/a";
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
