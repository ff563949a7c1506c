import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Drives bench/http-jms-bench.sh. "ingest": POST requests at concurrency 1, then 16, and report accepted/s and
 * latency; "drain": wait for the restarted gateway to deliver the whole backlog into the sandbox and report the
 * rate. JDK only, run as a single-file program.
 */
public class HttpJmsBench {

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Path work = Path.of(args[1]);
        int port = Integer.parseInt(args[2]);
        String key = args[3];
        int serial = Integer.parseInt(args[4]);
        int parallel = Integer.parseInt(args[5]);
        long pid = Long.parseLong(args[6]);
        Path log = work.resolve("mailgate.log");
        if (mode.equals("ingest")) {
            waitFor(Duration.ofSeconds(60), () -> read(log).contains("(mailgate) started"));
            HttpClient client = HttpClient.newBuilder().build();
            post(client, port, key, 50, 4, "warm-up");
            System.out.println("| measure | value |");
            System.out.println("|---|---|");
            report("HTTP POST, concurrency 1", post(client, port, key, serial, 1, "c1"));
            report("HTTP POST, concurrency 16", post(client, port, key, parallel, 16, "c16"));
            row("peak RSS while ingesting", peakRss(pid));
        } else {
            int total = serial + parallel + 50;
            Path sandbox = work.resolve("data/sandbox");
            long start = System.nanoTime();
            waitFor(Duration.ofSeconds(60), () -> count(sandbox) > 0);
            long first = System.nanoTime();
            waitFor(Duration.ofSeconds(1200), () -> count(sandbox) >= total);
            double seconds = (System.nanoTime() - first) / 1e9;
            row("JMS → sandbox: backlog delivered", total + " messages in " + String.format(Locale.ROOT, "%.1f s",
                    seconds) + " after a restart");
            row("JMS → sandbox delivery rate", String.format(Locale.ROOT, "%.1f msg/s", (total - 1) / seconds));
            row("start-up to first delivery", String.format(Locale.ROOT, "%.1f s", (first - start) / 1e9));
            long tokens = read(log).lines().filter(l -> l.contains("Got an access token from Entra ID")).count();
            row("token requests to Entra (both runs)", Long.toString(tokens));
            row("peak RSS while draining", peakRss(pid));
            row("machine", Runtime.getRuntime().availableProcessors() + " cores, Java "
                    + System.getProperty("java.version"));
        }
    }

    record Result(int count, double seconds, List<Double> latencies, int failures) {
    }

    private static Result post(HttpClient client, int port, String key, int count, int concurrency, String tag)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        List<Double> latencies = Collections.synchronizedList(new ArrayList<>());
        long start = System.nanoTime();
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < concurrency; w++) {
            workers.add(pool.submit(() -> {
                for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                    String json = "{\"to\": \"bench-" + tag + "-" + i + "@example.com\", \"subject\": \"Bench " + i
                            + "\", \"text\": \"Message " + i + "\"}";
                    HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                            + "/api/v1/messages")).header("Content-Type", "application/json")
                            .header("X-API-Key", key).POST(HttpRequest.BodyPublishers.ofString(json)).build();
                    long t0 = System.nanoTime();
                    try {
                        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
                        if (response.statusCode() != 202) {
                            if (failures.incrementAndGet() == 1) {
                                System.err.println("first failure: HTTP " + response.statusCode() + " " + response.body());
                            }
                        }
                    } catch (Exception e) {
                        if (failures.incrementAndGet() == 1) {
                            System.err.println("first failure: " + e);
                        }
                    }
                    latencies.add((System.nanoTime() - t0) / 1e6);
                }
                return null;
            }));
        }
        for (Future<?> f : workers) {
            f.get();
        }
        pool.shutdown();
        return new Result(count, (System.nanoTime() - start) / 1e9, latencies, failures.get());
    }

    private static void report(String name, Result r) {
        List<Double> sorted = new ArrayList<>(r.latencies());
        Collections.sort(sorted);
        row(name, String.format(Locale.ROOT, "%.0f requests/s accepted (%d in %.1f s, %d not 202); latency p50 %.1f ms, "
                + "p95 %.1f ms", r.count() / r.seconds(), r.count(), r.seconds(), r.failures(), pct(sorted, 50),
                pct(sorted, 95)));
    }

    private static void row(String name, String value) {
        System.out.println("| " + name + " | " + value + " |");
    }

    private static double pct(List<Double> sorted, int p) {
        int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }

    private static long count(Path dir) throws Exception {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".eml")).count();
        }
    }

    private static String peakRss(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return String.format(Locale.ROOT, "%.0f MB", Long.parseLong(line.replaceAll("\\D", "")) / 1024.0);
                }
            }
        } catch (Exception e) {
            // not Linux
        }
        return "n/a";
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (Exception e) {
            return "";
        }
    }

    interface Check {
        boolean done() throws Exception;
    }

    private static void waitFor(Duration limit, Check check) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!check.done()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out after " + limit);
            }
            Thread.sleep(20);
        }
    }
}
