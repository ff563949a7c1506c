import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Drives bench/pacing-bench.sh: submits a backlog over HTTP for one mailbox, waits until the sandbox SMTP server
 * has it all, then does the same for three mailboxes at once, and reports for each mailbox the achieved rate
 * (first to last arrival at the server) against the limit, the smallest gap between two arrivals, and the most
 * arrivals in any sliding window of a tenth of a minute. JDK only, run as a single-file program.
 */
public class PacingBench {

    private static final Pattern ENVELOPE = Pattern.compile("X-Mailgate-Sandbox-Envelope: from=<([^>]*)>");

    public static void main(String[] args) throws Exception {
        Path sandbox = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        String key = args[2];
        int perMinute = Integer.parseInt(args[3]);
        int count = Integer.parseInt(args[4]);
        Path log = Path.of(args[5]);
        waitFor(Duration.ofSeconds(60), () -> Files.exists(log) && Files.readString(log).contains("(mailgate) started"));
        HttpClient client = HttpClient.newHttpClient();

        System.out.println("| backlog | mailbox | messages | achieved rate | against the limit | smallest gap "
                + "(limit spacing " + String.format(Locale.ROOT, "%.0f", 60_000.0 / perMinute) + " ms) | most in any "
                + "6 s window (limit " + perMinute / 10 + ") |");
        System.out.println("|---|---|---|---|---|---|---|");
        // the first send fetches the token (and warms the JIT): a mailbox of its own pays for that
        submit(client, port, key, List.of("warm-up@contoso.test"), 1);
        waitFor(Duration.ofSeconds(60), () -> arrivals(sandbox).containsKey("warm-up@contoso.test"));
        submit(client, port, key, List.of("one@contoso.test"), count);
        waitFor(Duration.ofMinutes(30), () -> arrivals(sandbox).getOrDefault("one@contoso.test", List.of()).size()
                >= count);
        report("one mailbox", Map.of("one@contoso.test", arrivals(sandbox).get("one@contoso.test")), perMinute);

        List<String> three = List.of("first@contoso.test", "second@contoso.test", "third@contoso.test");
        submit(client, port, key, three, count);
        waitFor(Duration.ofMinutes(30), () -> {
            Map<String, List<Long>> now = arrivals(sandbox);
            return three.stream().allMatch(m -> now.getOrDefault(m, List.of()).size() >= count);
        });
        Map<String, List<Long>> all = arrivals(sandbox);
        for (String mailbox : three) {
            report("three mailboxes at once", Map.of(mailbox, all.get(mailbox)), perMinute);
        }
    }

    /** {@code count} requests per mailbox, interleaved, posted by 8 clients. */
    private static void submit(HttpClient client, int port, String key, List<String> mailboxes, int count)
            throws Exception {
        int total = count * mailboxes.size();
        AtomicInteger next = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < 8; w++) {
            workers.add(pool.submit(() -> {
                for (int i = next.getAndIncrement(); i < total; i = next.getAndIncrement()) {
                    String json = "{\"from\": \"" + mailboxes.get(i % mailboxes.size()) + "\", \"to\": \"pace-" + i
                            + "@example.com\", \"subject\": \"Pacing " + i + "\", \"text\": \"Message " + i + "\"}";
                    HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(
                            "http://127.0.0.1:" + port + "/api/v1/messages")).header("Content-Type", "application/json")
                            .header("X-API-Key", key).POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (response.statusCode() != 202) {
                        throw new IllegalStateException("HTTP " + response.statusCode() + ": " + response.body());
                    }
                }
                return null;
            }));
        }
        for (Future<?> worker : workers) {
            worker.get();
        }
        pool.shutdown();
    }

    private static void report(String backlog, Map<String, List<Long>> byMailbox, int perMinute) {
        byMailbox.forEach((mailbox, times) -> {
            List<Long> t = new ArrayList<>(times);
            t.sort(null);
            double minutes = (t.get(t.size() - 1) - t.get(0)) / 60_000_000_000.0;
            double rate = (t.size() - 1) / minutes;
            long smallestGap = Long.MAX_VALUE;
            for (int i = 1; i < t.size(); i++) {
                smallestGap = Math.min(smallestGap, t.get(i) - t.get(i - 1));
            }
            long window = 6_000_000_000L;
            int most = 0;
            for (int i = 0, j = 0; i < t.size(); i++) {
                while (t.get(i) - t.get(j) >= window) {
                    j++;
                }
                most = Math.max(most, i - j + 1);
            }
            System.out.println(String.format(Locale.ROOT, "| %s | %s | %d | %.1f /min | %+.2f %% | %.1f ms | %d |",
                    backlog, mailbox, t.size(), rate, (rate / perMinute - 1) * 100, smallestGap / 1e6, most));
        });
    }

    /** Arrival times (file modification, in nanoseconds) of the sandbox's messages, by envelope sender. */
    private static Map<String, List<Long>> arrivals(Path sandbox) throws Exception {
        Map<String, List<Long>> result = new HashMap<>();
        if (!Files.isDirectory(sandbox)) {
            return result;
        }
        try (var files = Files.list(sandbox)) {
            for (Path file : files.filter(f -> f.getFileName().toString().endsWith(".eml")).toList()) {
                String head = new String(Files.readAllBytes(file), 0, 200, java.nio.charset.StandardCharsets.US_ASCII);
                Matcher m = ENVELOPE.matcher(head);
                if (m.find()) {
                    long at = Files.getLastModifiedTime(file).to(java.util.concurrent.TimeUnit.NANOSECONDS);
                    result.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(at);
                }
            }
        }
        return result;
    }

    interface Check {
        boolean done() throws Exception;
    }

    private static void waitFor(Duration limit, Check check) throws Exception {
        long end = System.nanoTime() + limit.toNanos();
        while (!check.done()) {
            if (System.nanoTime() > end) {
                throw new IllegalStateException("timed out after " + limit);
            }
            Thread.sleep(100);
        }
    }
}
