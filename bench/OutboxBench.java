import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Drives the outbox benchmark against a running gateway (see outbox-bench.sh): drops N requests the
 * recommended way (write under a hidden name, then rename), waits for the receipts, and prints a Markdown
 * summary. JDK only, run as a single-file program.
 */
public class OutboxBench {

    private static final Pattern SENT_AT = Pattern.compile("\"sentAt\"\\s*:\\s*\"([^\"]+)\"");

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]);
        int count = Integer.parseInt(args[1]);
        long pid = Long.parseLong(args[2]);
        Path log = work.resolve("mailgate.log");
        Path outbox = work.resolve("outbox");

        long launched = System.nanoTime();
        waitFor(Duration.ofSeconds(60), () -> read(log).contains("Started outbox"));
        double startupSeconds = (System.nanoTime() - launched) / 1e9;

        Instant[] dropped = new Instant[count];
        for (int i = 0; i < count; i++) {
            String json = "{\"to\": \"bench-" + i + "@example.com\", \"subject\": \"Benchmark " + i
                    + "\", \"text\": \"Message " + i + " of " + count + ".\"}";
            Path hidden = outbox.resolve(".bench-" + i + ".json");
            Files.writeString(hidden, json, StandardCharsets.UTF_8);
            dropped[i] = Instant.now();
            Files.move(hidden, outbox.resolve("bench-" + i + ".json"), StandardCopyOption.ATOMIC_MOVE);
        }
        Path sent = outbox.resolve(".sent");
        waitFor(Duration.ofSeconds(600), () -> receipts(sent) >= count);

        List<Double> latencies = new ArrayList<>();
        List<Instant> sentTimes = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String receipt = Files.readString(sent.resolve("bench-" + i + ".json.receipt.json"));
            Matcher m = SENT_AT.matcher(receipt);
            if (!m.find()) {
                throw new IllegalStateException("receipt without sentAt: " + receipt);
            }
            Instant at = Instant.parse(m.group(1));
            sentTimes.add(at);
            latencies.add(Duration.between(dropped[i], at).toNanos() / 1e6);
        }
        Collections.sort(sentTimes);
        List<Double> gaps = new ArrayList<>();
        for (int i = 1; i < sentTimes.size(); i++) {
            gaps.add(Duration.between(sentTimes.get(i - 1), sentTimes.get(i)).toNanos() / 1e6);
        }
        Collections.sort(latencies);
        Collections.sort(gaps);
        double wall = Duration.between(dropped[0], sentTimes.get(count - 1)).toNanos() / 1e9;
        double drain = Duration.between(sentTimes.get(0), sentTimes.get(count - 1)).toNanos() / 1e9;
        long tokens = read(log).lines().filter(l -> l.contains("Got an access token from Entra ID")).count();
        long failed = Files.isDirectory(outbox.resolve(".failed")) ? Files.list(outbox.resolve(".failed")).count() : 0;

        System.out.println("| measure | value |");
        System.out.println("|---|---|");
        row("messages", Integer.toString(count));
        row("failed", Long.toString(failed));
        row("throughput, first drop to last receipt", String.format(Locale.ROOT, "%.1f msg/s (%.1f s)",
                count / wall, wall));
        row("throughput, first to last send", String.format(Locale.ROOT, "%.1f msg/s", (count - 1) / drain));
        row("latency drop→sent p50 / p95 / max", String.format(Locale.ROOT, "%.0f / %.0f / %.0f ms",
                pct(latencies, 50), pct(latencies, 95), latencies.get(count - 1)));
        row("time per send p50 / p95", String.format(Locale.ROOT, "%.1f / %.1f ms", pct(gaps, 50), pct(gaps, 95)));
        row("token requests to Entra", Long.toString(tokens));
        row("peak RSS of the gateway", peakRss(pid));
        row("start-up to routes started", String.format(Locale.ROOT, "%.1f s", startupSeconds));
        row("machine", Runtime.getRuntime().availableProcessors() + " cores, Java "
                + System.getProperty("java.version"));
    }

    private static void row(String name, String value) {
        System.out.println("| " + name + " | " + value + " |");
    }

    private static double pct(List<Double> sorted, int p) {
        int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }

    private static String peakRss(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmHWM:")) {
                    long kb = Long.parseLong(line.replaceAll("\\D", ""));
                    return String.format(Locale.ROOT, "%.0f MB", kb / 1024.0);
                }
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux, or the process is gone
        }
        return "n/a";
    }

    private static long receipts(Path sent) throws IOException {
        if (!Files.isDirectory(sent)) {
            return 0;
        }
        try (var files = Files.list(sent)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".receipt.json")).count();
        }
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
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
