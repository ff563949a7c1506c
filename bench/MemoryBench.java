import java.io.BufferedReader;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Drives bench/memory-bench.sh. JDK only, run as a single-file program.
 * <ul>
 * <li>{@code steady}: POSTs N small requests to a running gateway, never more than a few hundred ahead of the
 * deliveries, and at checkpoints (a tenth of N as the warm-up, then a quarter, half, three quarters, all), once
 * everything submitted is delivered and after a pause, records the heap in use after a full GC ({@code jcmd GC.run},
 * then {@code GC.heap_info}), metaspace, the process's threads, its RSS and the size of the journal's file.</li>
 * <li>{@code large}: drops a request with an attachment of random bytes into the outbox of a running gateway,
 * waits for its receipt, and checks the attachment's decoded bytes in the sandbox's copy of the mail.</li>
 * </ul>
 */
public class MemoryBench {

    private static final Path JCMD = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    private static final Pattern USED = Pattern.compile("used (\\d+)K");
    /** Requests submitted but not yet delivered, at most: the queue stays short, so it is not what is measured. */
    private static final int AHEAD = 300;

    /**
     * The pause at each checkpoint before measuring: the embedded journal (H2) keeps the chunks of the last 45 s of
     * commits on disk and their bookkeeping on the heap; after it, what is measured is what stays.
     */
    private static final Duration SETTLE = Duration.ofSeconds(50);

    record Sample(int delivered, double seconds, double heapMb, double metaspaceMb, int threads, double rssMb,
            double journalMb) {
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("steady")) {
            steady(Path.of(args[1]), Integer.parseInt(args[2]), args[3], Integer.parseInt(args[4]),
                    Long.parseLong(args[5]));
        } else {
            large(Path.of(args[1]), Integer.parseInt(args[2]), Long.parseLong(args[3]), args[4]);
        }
    }

    private static void steady(Path work, int port, String key, int count, long pid) throws Exception {
        Path log = work.resolve("mailgate.log");
        Path sandbox = work.resolve("data/sandbox");
        waitFor(Duration.ofSeconds(60), () -> read(log).contains("(mailgate) started"));
        int[] checkpoints = {count / 10, count / 4, count / 2, count * 3 / 4, count};
        HttpClient client = HttpClient.newHttpClient();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        List<Sample> samples = new ArrayList<>();
        // counted in one place: listing a folder of thousands of files for every request would slow the feed
        AtomicLong delivered = new AtomicLong();
        ScheduledExecutorService counter = Executors.newSingleThreadScheduledExecutor();
        counter.scheduleWithFixedDelay(() -> {
            try {
                delivered.set(delivered(sandbox));
            } catch (IOException e) {
                // the next count
            }
        }, 0, 100, TimeUnit.MILLISECONDS);
        long feeding = 0;
        for (int checkpoint : checkpoints) {
            long phase = System.nanoTime();
            List<Future<?>> workers = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                workers.add(pool.submit(() -> {
                    for (int i = next.getAndIncrement(); i < checkpoint; i = next.getAndIncrement()) {
                        while (i - delivered.get() > AHEAD) {
                            Thread.sleep(20);
                        }
                        post(client, port, key, i, failures);
                    }
                    return null;
                }));
            }
            for (Future<?> f : workers) {
                f.get();
            }
            next.set(checkpoint);
            waitFor(Duration.ofMinutes(10), () -> delivered.get() >= checkpoint);
            feeding += System.nanoTime() - phase;
            Thread.sleep(SETTLE.toMillis());
            samples.add(sample(pid, checkpoint, feeding / 1e9, work.resolve("data/journal/mailgate.mv.db")));
            System.err.printf(Locale.ROOT, "%s%n", samples.get(samples.size() - 1));
        }
        pool.shutdown();
        counter.shutdown();
        if (failures.get() > 0) {
            throw new IllegalStateException(failures.get() + " requests were not accepted");
        }

        Sample warm = samples.get(0);
        Sample last = samples.get(samples.size() - 1);
        System.out.printf(Locale.ROOT, "### %,d small messages, JVM defaults%n%n", count);
        System.out.println("| delivered | heap used after full GC | metaspace | threads | RSS | journal file |");
        System.out.println("|---:|---:|---:|---:|---:|---:|");
        for (Sample s : samples) {
            System.out.printf(Locale.ROOT, "| %,d%s | %.1f MB | %.1f MB | %d | %.0f MB | %.0f MB |%n", s.delivered(),
                    s == warm ? " (after warm-up)" : "", s.heapMb(), s.metaspaceMb(), s.threads(), s.rssMb(),
                    s.journalMb());
        }
        double growth = last.heapMb() - warm.heapMb();
        System.out.println();
        System.out.println("| measure | value |");
        System.out.println("|---|---|");
        row("heap after GC, warm-up to last checkpoint", String.format(Locale.ROOT, "%+.1f MB (%+.0f KB per 1,000 "
                + "messages)", growth, growth * 1024 / ((last.delivered() - warm.delivered()) / 1000.0)));
        row("delivery rate", String.format(Locale.ROOT, "%.0f msg/s (%,d in %.0f s, HTTP POST to sandbox, "
                + "%d not accepted; the pauses at the checkpoints left out)", last.delivered() / last.seconds(),
                last.delivered(), last.seconds(), failures.get()));
        row("peak RSS", peakRss(pid));
        Matcher maxHeap = Pattern.compile("MaxHeapSize=(\\d+)").matcher(jcmd(pid, "VM.flags"));
        row("gateway JVM", "default settings (max heap " + (maxHeap.find() ? Long.parseLong(maxHeap.group(1))
                / (1024 * 1024) + " MB" : "n/a") + "), " + Runtime.getRuntime().availableProcessors() + " cores, Java "
                + System.getProperty("java.version"));
    }

    private static void post(HttpClient client, int port, String key, int i, AtomicInteger failures) {
        String json = "{\"to\": \"memory-" + i + "@example.com\", \"subject\": \"Memory " + i + "\", \"text\": "
                + "\"Message " + i + "\", \"idempotencyKey\": \"memory-bench-" + i + "\"}";
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/messages"))
                .header("Content-Type", "application/json").header("X-API-Key", key)
                .POST(HttpRequest.BodyPublishers.ofString(json)).build();
        try {
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 202 && failures.incrementAndGet() == 1) {
                System.err.println("first failure: HTTP " + response.statusCode() + " " + response.body());
            }
        } catch (Exception e) {
            if (failures.incrementAndGet() == 1) {
                System.err.println("first failure: " + e);
            }
        }
    }

    /** Heap used after a full GC (two, so that what the first freed for finalization is gone too), and the rest. */
    private static Sample sample(long pid, int delivered, double seconds, Path journal) throws Exception {
        jcmd(pid, "GC.run");
        jcmd(pid, "GC.run");
        String info = jcmd(pid, "GC.heap_info");
        long heapKb = 0;
        long metaspaceKb = 0;
        for (String line : info.split("\n")) {
            Matcher m = USED.matcher(line);
            if (!m.find()) {
                continue;
            }
            if (line.trim().startsWith("Metaspace")) {
                metaspaceKb = Long.parseLong(m.group(1));
            } else if (!line.trim().startsWith("class space")) {
                // G1 has one line for the heap; the serial and parallel collectors one per generation
                heapKb += Long.parseLong(m.group(1));
            }
        }
        return new Sample(delivered, seconds, heapKb / 1024.0, metaspaceKb / 1024.0,
                (int) status(pid, "Threads:"), status(pid, "VmRSS:") / 1024.0, Files.size(journal) / (1024.0 * 1024.0));
    }

    private static String jcmd(long pid, String command) throws Exception {
        Process p = new ProcessBuilder(JCMD.toString(), Long.toString(pid), command).redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("jcmd " + command + " failed: " + out);
        }
        return out;
    }

    // ---- one large attachment

    private static void large(Path work, int megabytes, long pid, String javaOptions) throws Exception {
        Path log = work.resolve("mailgate.log");
        Path outbox = work.resolve("outbox");
        waitFor(Duration.ofSeconds(60), () -> read(log).contains("Started outbox"));
        Path file = Files.createDirectories(outbox.resolve("attachments")).resolve("large.bin");
        byte[] block = new byte[1024 * 1024];
        Random random = new Random(42);
        MessageDigest written = MessageDigest.getInstance("SHA-256");
        try (var out = Files.newOutputStream(file)) {
            for (int i = 0; i < megabytes; i++) {
                random.nextBytes(block);
                out.write(block);
                written.update(block);
            }
        }
        Path hidden = outbox.resolve(".large.json");
        Files.writeString(hidden, "{\"to\": \"large@example.com\", \"subject\": \"Large attachment\", \"text\": "
                + "\"See the attachment.\", \"attachments\": [{\"path\": \"large.bin\"}]}");
        long dropped = System.nanoTime();
        Files.move(hidden, outbox.resolve("large.json"), StandardCopyOption.ATOMIC_MOVE);
        Path receipt = outbox.resolve(".sent/large.json.receipt.json");
        Path failed = outbox.resolve(".failed/large.json.error.json");
        waitFor(Duration.ofMinutes(5), () -> {
            if (Files.exists(failed) || !ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                throw new IllegalStateException("not sent: " + read(failed) + tail(log));
            }
            return Files.exists(receipt);
        });
        double seconds = (System.nanoTime() - dropped) / 1e9;
        String peak = peakRss(pid);
        boolean outOfMemory = read(log).contains("OutOfMemoryError");
        List<Path> mails;
        try (var files = Files.list(work.resolve("data/sandbox"))) {
            mails = files.filter(f -> f.getFileName().toString().endsWith(".eml")).toList();
        }
        String sent = HexFormat.of().formatHex(attachmentDigest(mails.get(0), "large.bin"));
        boolean intact = sent.equals(HexFormat.of().formatHex(written.digest()));
        if (!intact || outOfMemory) {
            throw new IllegalStateException("attachment intact: " + intact + ", OutOfMemoryError: " + outOfMemory);
        }
        System.out.printf(Locale.ROOT, "### One %d MB attachment, %s%n%n", megabytes, javaOptions);
        System.out.println("| measure | value |");
        System.out.println("|---|---|");
        row("attachment", megabytes + " MB of random bytes, " + String.format(Locale.ROOT, "%.1f MB",
                Files.size(mails.get(0)) / (1024.0 * 1024.0)) + " as sent (base64)");
        row("drop to receipt", String.format(Locale.ROOT, "%.1f s (includes the 2 s settle time)", seconds));
        row("peak RSS of the gateway", peak);
        row("attachment's SHA-256 at the server", "equal to the file's; no OutOfMemoryError");
    }

    /** The SHA-256 of the decoded base64 part whose file name is {@code name}, read line by line. */
    private static byte[] attachmentDigest(Path eml, String name) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        try (BufferedReader in = Files.newBufferedReader(eml, StandardCharsets.US_ASCII)) {
            String line;
            boolean named = false;
            while ((line = in.readLine()) != null && !(named && line.isEmpty())) {
                named |= line.contains("filename=" + name) || line.contains("filename=\"" + name + "\"");
            }
            while ((line = in.readLine()) != null && !line.startsWith("--")) {
                digest.update(Base64.getMimeDecoder().decode(line));
            }
        }
        return digest.digest();
    }

    // ---- helpers

    private static long delivered(Path sandbox) throws IOException {
        if (!Files.isDirectory(sandbox)) {
            return 0;
        }
        try (var files = Files.list(sandbox)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".eml")).count();
        }
    }

    private static long status(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith(field)) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        return -1;
    }

    private static String peakRss(long pid) {
        try {
            return String.format(Locale.ROOT, "%.0f MB", status(pid, "VmHWM:") / 1024.0);
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
    }

    private static void row(String name, String value) {
        System.out.println("| " + name + " | " + value + " |");
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            return "";
        }
    }

    private static String tail(Path log) {
        String text = read(log);
        return "\n" + text.substring(Math.max(0, text.length() - 3000));
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
            Thread.sleep(50);
        }
    }
}
