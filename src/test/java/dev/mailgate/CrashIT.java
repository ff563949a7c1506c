package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import jakarta.mail.MessagingException;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.mailgate.channel.jms.EmbeddedBroker;
import dev.mailgate.config.Settings;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Jms;
import dev.mailgate.support.PackagedGateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Crash tests: the packaged jar as a separate process (real-tenant mode against a {@link TestEntra} token endpoint
 * and a STARTTLS + XOAUTH2 {@link TestSmtpServer} in this JVM), a backlog spread over the outbox and the JMS queue,
 * {@code kill -9} mid-flight, a restart on the same folders, and then the proof:
 * <ol>
 * <li>every request reached the SMTP server;</li>
 * <li>the extra copies the server got are at most the sends in flight at the kill;</li>
 * <li>every outbox file ended in {@code .sent/}: none is left in the outbox or in {@code .queued/}, none failed,
 * none is in two outcome folders;</li>
 * <li>the journal agrees with the server: one row per request, every row {@code sent}, and the delivery ids the
 * server saw (the {@code X-Mailgate-Id} header) are exactly the journal's {@code sent} rows.</li>
 * </ol>
 * The backlog is 40 requests (20 outbox files, 20 JMS messages) by default; {@code -Dmailgate.crash.backlog=200} runs
 * the full one ({@code bench/crash-test.sh}). Each case prints one {@code CRASH-TEST ...} line with its numbers.
 * <p>
 * The requests carry no {@code idempotencyKey}: the guarantees must come from the delivery ids (a file keeps its id
 * when it is read again, a redelivered JMS message keeps its id), not from a second line of defence that would hide a
 * fault in the first.
 */
class CrashIT {

    /** Requests in the backlog: half outbox files, half JMS messages. */
    private static final int BACKLOG = Integer.getInteger("mailgate.crash.backlog", 40);
    /** {@code mailgate.jms.consumers} of the child (its default, set explicitly so the bound below follows it). */
    private static final int CONSUMERS = 4;
    private static final String QUEUE = "mailgate.outbox";
    private static final String DEAD_LETTERS = "mailgate.dlq";
    /** The one request of the DATA case that is big enough to leave the client blocked in the middle of DATA. */
    private static final String STALL_RECIPIENT = "stall@example.com";
    private static final int STALL_ATTACHMENT_BYTES = 8 * 1024 * 1024;
    private static final Pattern MARKER = Pattern.compile("Crash test ([oj]-\\d+)");
    private static final Duration DRAIN = Duration.ofSeconds(Math.max(90, BACKLOG));

    enum KillPoint {
        /** After the server has received a third of the backlog. */
        AFTER_A_THIRD,
        /** While the client is in the middle of DATA (after 354, before the end of data) of an outbox request. */
        DURING_DATA,
        /**
         * Right after start-up, while the queue consumption and the outbox scan are just beginning: as soon as the
         * server has the first mail and the first outbox file has left the outbox folder.
         */
        AT_START_UP
    }

    /** A request of the backlog: its marker (in the subject), where it came from, and how to find its journal row. */
    private record Request(String marker, boolean outbox, String file, String jmsId) {
        boolean owns(String source) {
            return outbox ? isFile(source, file) : source.contains(jmsId);
        }

        /** An outbox row's source is the path the file was read from. */
        static boolean isFile(String source, String file) {
            return source.equals(file) || source.endsWith(File.separator + file);
        }
    }

    /** A row of the journal's {@code delivery} table. */
    private record Row(String id, String channel, String source, String state) {
    }

    /**
     * A real tenant served by this test's token endpoint and SMTP server; outbox/ and data/ in the jar's working
     * directory; quick polling, short retries, pacing lifted so the backlog moves fast ({@link Gateway#folders}).
     */
    @RegisterExtension
    final PackagedGateway mailgate = PackagedGateway.realTenant()
            .with("mailgate.jms.consumers", Integer.toString(CONSUMERS));

    private TestSmtpServer smtp;
    private TestSmtpServer.DataHold hold;
    /** The broker port of the latest start: the test looks at the queues of the restarted gateway over TCP. */
    private int brokerPort;

    @BeforeEach
    void servers() {
        smtp = mailgate.smtp();
    }

    @AfterEach
    void release() {
        if (hold != null) {
            hold.release();
        }
    }

    @ParameterizedTest(name = "kill -9 {0}, restart, every request delivered")
    @EnumSource(KillPoint.class)
    void killed_gateway_delivers_everything_after_a_restart(KillPoint killPoint) throws Exception {
        String only = System.getProperty("mailgate.crash.kill", "");
        Assumptions.assumeTrue(only.isBlank() || List.of(only.split(",")).contains(killPoint.name()),
                "-Dmailgate.crash.kill=" + only);
        long started = System.nanoTime();
        try {
            run(killPoint, started);
        } finally {
            // the gateway's own logs, all of them with -Dmailgate.crash.verbose=true (the fixture prints the last
            // lines of each after a failure)
            if (Boolean.getBoolean("mailgate.crash.verbose")) {
                for (PackagedGateway.Run run : mailgate.runs()) {
                    System.out.println("---- " + killPoint + ": " + run.log().getFileName() + ":");
                    System.out.println(run.logText());
                }
            }
        }
    }

    private void run(KillPoint killPoint, long started) throws Exception {
        int jmsCount = BACKLOG / 2;
        int outboxCount = BACKLOG - jmsCount;
        List<Request> requests = new ArrayList<>();

        // 1. The JMS half, on the persistent queue in data/broker/ before the gateway starts: written by the gateway's
        // own broker class on the gateway's settings, in this JVM (a gateway process with no channel route would do
        // the same, at the cost of a JVM start per case).
        List<String> jmsIds = prefillQueue(IntStream.range(0, jmsCount)
                .mapToObj(i -> request(String.format("j-%03d", i), String.format("rcpt-j-%03d@example.com", i), null))
                .toList());
        for (int i = 0; i < jmsCount; i++) {
            requests.add(new Request(String.format("j-%03d", i), false, null, jmsIds.get(i)));
        }

        // 2. The outbox half, dropped while the gateway is down.
        int stallIndex = killPoint == KillPoint.DURING_DATA ? outboxCount / 4 : -1;
        Path outbox = Files.createDirectories(mailgate.dir().resolve("outbox"));
        if (stallIndex >= 0) {
            byte[] big = new byte[STALL_ATTACHMENT_BYTES];
            new Random(42).nextBytes(big);
            Files.write(Files.createDirectories(outbox.resolve("attachments")).resolve("big.bin"), big);
        }
        for (int i = 0; i < outboxCount; i++) {
            String marker = String.format("o-%03d", i);
            String file = marker + ".json";
            String json = i == stallIndex ? request(marker, STALL_RECIPIENT, "big.bin")
                    : request(marker, "rcpt-" + marker + "@example.com", null);
            mailgate.drop(file, json);
            requests.add(new Request(marker, true, file, null));
        }
        Map<String, Request> byMarker = new LinkedHashMap<>();
        requests.forEach(r -> byMarker.put(r.marker(), r));

        // 3. Start, and kill -9 at the kill point.
        hold = stallIndex >= 0 ? smtp.holdDataTo(STALL_RECIPIENT) : null;
        long prefilled = System.nanoTime();
        PackagedGateway.Run crashing = start();
        switch (killPoint) {
            // a third of the backlog received
            case AFTER_A_THIRD -> crashing.await(DRAIN, () -> smtp.received().size() >= BACKLOG / 3);
            case DURING_DATA -> {
                while (!hold.awaitHeld(Duration.ofMillis(200))) {
                    assertThat(crashing.isAlive()).as("the gateway is running").isTrue();
                    assertThat(Duration.ofNanos(System.nanoTime() - started)).as("waiting for DATA of the big request")
                            .isLessThan(DRAIN);
                }
                // the client writes into the socket until the buffers are full; the message is far bigger
                Thread.sleep(200);
            }
            case AT_START_UP -> {
                // JMS consumption starts with the routes; the outbox's first scan comes about a second later
                crashing.await(DRAIN, () -> !smtp.received().isEmpty()); // the first mail received
                crashing.await(DRAIN, () -> pending(outbox).size() < outboxCount); // the outbox scan begun
            }
        }
        assertThat(crashing.isAlive()).as("the gateway is still running at the kill point").isTrue();
        crashing.kill();
        int receivedAtKill = smtp.received().size();
        String stallMarker = stallIndex >= 0 ? String.format("o-%03d", stallIndex) : null;
        if (hold != null) {
            assertThat(markers(smtp.received())).as("the message in the middle of DATA at the kill")
                    .doesNotContainKey(stallMarker);
            hold.release();
            Awaitility.await("the held DATA ended without its end of data").atMost(DRAIN)
                    .pollInterval(Duration.ofMillis(5)).until(() -> smtp.abortedData() >= 1);
            assertThat(markers(smtp.received())).as("the partial message is not received").doesNotContainKey(stallMarker);
        }

        // 4. What was in flight at the kill, from the killed process's own journal. A request reaches the SMTP
        // server only after its row says SENDING (the record-attempt step records it before composing), and once its row says
        // SENT it is never sent again (a redelivered JMS message, a re-read file and the queued copy of an outbox
        // file are all stopped by that row). So a copy can only go out twice if its row was SENDING at the kill:
        // the server may have taken it, but the 250 never became SENT. The outbox adds one more way: killed
        // between putting a file's request on the queue and moving the file to .queued/, the file is read again
        // at the restart (same delivery id) and queued a second time; both copies can be in flight together.
        // Counted as interrupted hand-offs: files still in the outbox whose row is past RECEIVED (the row says
        // QUEUED just before the request goes on the queue, so this may count one too many, never one too few).
        // The outbox route works on one file at a time, so there is at most one such hand-off; SENDING rows are at
        // most one per JMS consumer. The bound asserted: extra copies <= SENDING rows + interrupted hand-offs,
        // which is itself <= mailgate.jms.consumers + 1.
        List<Row> atKill = journal();
        long sending = atKill.stream().filter(r -> r.state().equals("SENDING")).count();
        long handOffs = pending(outbox).stream().filter(file -> atKill.stream()
                .anyMatch(r -> r.channel().equals("outbox") && Request.isFile(r.source(), file)
                        && !r.state().equals("RECEIVED")))
                .count();
        long inFlight = sending + handOffs;
        Map<String, Long> statesAtKill = new TreeMap<>(atKill.stream()
                .collect(Collectors.groupingBy(Row::state, Collectors.counting())));

        // 5. Restart on the same folders, broker journal and delivery journal; wait until the backlog is drained.
        long killed = System.nanoTime();
        PackagedGateway.Run restarted = start();
        boolean drained = restarted.holdsWithin(DRAIN, () -> markers(smtp.received()).keySet()
                .containsAll(byMarker.keySet()) && pending(outbox).isEmpty());
        // the last outcomes are being recorded; a file that stays in .queued/ is asserted on below
        restarted.holdsWithin(Duration.ofSeconds(10), () -> files(outbox.resolve(".queued")).isEmpty());
        List<String> queueLeft;
        List<String> deadLetters;
        try (Jms jms = new Jms("tcp://127.0.0.1:" + brokerPort)) {
            // quiet: nothing arrives any more, and nothing waits on the queue
            int before;
            do {
                before = smtp.received().size();
                Thread.sleep(1000);
            } while (smtp.received().size() != before && restarted.isAlive());
            assertThat(restarted.isAlive()).as("the restarted gateway is running").isTrue();
            queueLeft = jms.browse(QUEUE).stream().map(CrashIT::describe).toList();
            deadLetters = jms.browse(DEAD_LETTERS).stream().map(CrashIT::describe).toList();
        }
        long drainedAt = System.nanoTime();
        restarted.stop();
        long stopped = System.nanoTime();
        double seconds = (System.nanoTime() - started) / 1e9;

        // 6. The proof.
        List<TestSmtpServer.Received> received = smtp.received();
        Map<String, Integer> copies = markers(received);
        int extraCopies = copies.values().stream().mapToInt(n -> n - 1).sum();
        long duplicated = copies.values().stream().filter(n -> n > 1).count();
        List<Row> rows = journal();
        System.out.printf(Locale.ROOT, "CRASH-TEST kill=%s requests=%d outbox=%d jms=%d receivedAtKill=%d "
                + "delivered=%d duplicates=%d extraCopies=%d inFlightAtKill=%d sendingAtKill=%d handOffsAtKill=%d "
                + "bound=%d journalAtKill=%s seconds=%.1f (setup %.1f, start to kill %.1f, restart to drained %.1f, stop %.1f)%n",
                killPoint, BACKLOG, outboxCount, jmsCount, receivedAtKill,
                copies.keySet().stream().filter(byMarker::containsKey).count(), duplicated, extraCopies, inFlight,
                sending, handOffs, CONSUMERS + 1, statesAtKill, seconds, (prefilled - started) / 1e9,
                (killed - prefilled) / 1e9, (drainedAt - killed) / 1e9, (stopped - drainedAt) / 1e9);

        // 1. every request reached the server
        assertThat(drained).as("backlog drained within %s after the restart", DRAIN).isTrue();
        assertThat(byMarker.keySet().stream().filter(m -> !copies.containsKey(m)).toList())
                .as("requests the server never received").isEmpty();
        assertThat(copies.keySet().stream().filter(m -> !byMarker.containsKey(m)).toList())
                .as("mails the server received that no request asked for").isEmpty();

        // 2. duplicates at most the sends in flight at the kill
        assertThat(inFlight).as("in flight at the kill (SENDING rows + interrupted hand-offs)")
                .isLessThanOrEqualTo(CONSUMERS + 1);
        assertThat(extraCopies).as("extra copies the server received (%s)", copies.entrySet().stream()
                .filter(e -> e.getValue() > 1).toList()).isLessThanOrEqualTo((int) inFlight);

        // 3. every outbox file in exactly one place, and that place is .sent/
        Set<String> sent = outcomes(outbox.resolve(".sent"), ".receipt.json");
        Set<String> failed = outcomes(outbox.resolve(".failed"), ".error.json");
        assertThat(pending(outbox)).as("files left in the outbox").isEmpty();
        assertThat(files(outbox.resolve(".queued")).stream().map(f -> f + " (journal: " + rows.stream()
                .filter(r -> r.channel().equals("outbox") && Request.isFile(r.source(), f)).map(Row::state).toList()
                + ", copies the server received: " + copies.getOrDefault(f.replaceFirst("\\.json$", ""), 0) + ")")
                .toList()).as("files left in .queued/ after the backlog was drained")
                .isEmpty();
        assertThat(failed).as("files in .failed/").isEmpty();
        assertThat(sent.stream().filter(failed::contains).toList()).as("files in both .sent/ and .failed/").isEmpty();
        assertThat(sent).as(".sent/: each request file once, under its own name")
                .containsExactlyInAnyOrderElementsOf(requests.stream().filter(Request::outbox).map(Request::file)
                        .toList());
        // not asserted (the README does not promise it across a crash), but reported: killed between moving a file
        // to .sent/ and writing its receipt next to it, the gateway leaves the file there without one
        List<String> withoutReceipt = sent.stream()
                .filter(f -> !Files.exists(outbox.resolve(".sent").resolve(f + ".receipt.json"))).toList();
        if (!withoutReceipt.isEmpty()) {
            System.out.println("CRASH-TEST NOTE kill=" + killPoint + ": files in .sent/ without a receipt: "
                    + withoutReceipt);
        }
        assertThat(deadLetters).as("dead letters").isEmpty();
        assertThat(queueLeft).as("messages left on the queue").isEmpty();

        // 4. the journal agrees with the server
        Map<String, List<Row>> rowsByMarker = new HashMap<>();
        List<Row> strays = new ArrayList<>();
        for (Row row : rows) {
            List<Request> owners = requests.stream().filter(r -> r.owns(row.source())).toList();
            if (owners.size() == 1) {
                rowsByMarker.computeIfAbsent(owners.get(0).marker(), m -> new ArrayList<>()).add(row);
            } else {
                strays.add(row);
            }
        }
        assertThat(strays).as("journal rows that belong to no request (or to several)").isEmpty();
        for (Request request : requests) {
            assertThat(rowsByMarker.get(request.marker())).as("journal rows of %s", request).hasSize(1)
                    .allMatch(r -> r.state().equals("SENT"), "SENT");
        }
        Map<String, Set<String>> idsByMarker = new HashMap<>();
        for (TestSmtpServer.Received mail : received) {
            idsByMarker.computeIfAbsent(marker(mail), m -> new TreeSet<>()).add(deliveryId(mail));
        }
        for (Request request : requests) {
            assertThat(idsByMarker.get(request.marker())).as("delivery ids the server saw for %s", request.marker())
                    .containsExactly(rowsByMarker.get(request.marker()).get(0).id());
        }
        assertThat(rows.stream().filter(r -> r.state().equals("SENT")).map(Row::id).collect(Collectors.toSet()))
                .as("SENT in the journal = delivery ids received by the server")
                .isEqualTo(received.stream().map(CrashIT::deliveryId).collect(Collectors.toSet()));
    }

    private static String request(String marker, String to, String attachment) {
        return "{\"to\": \"" + to + "\", \"subject\": \"Crash test " + marker + "\", \"text\": \"request " + marker
                + "\"" + (attachment == null ? "" : ", \"attachments\": [{\"path\": \"" + attachment + "\"}]") + "}";
    }

    // ---- the gateway

    /** Starts the jar (without waiting: a kill point may come during its start) on a broker port of its own. */
    private PackagedGateway.Run start() throws IOException {
        brokerPort = Gateway.freePort();
        return mailgate.with("mailgate.broker.port", Integer.toString(brokerPort)).launch();
    }

    /** Puts these MailRequests on the queue of the broker in data/broker/ (started here, in-VM only); their JMS ids. */
    private List<String> prefillQueue(List<String> bodies) throws Exception {
        Map<String, String> p = mailgate.settings();
        p.put("mailgate.broker.port", "0");
        Settings settings = Settings.read(key -> Optional.ofNullable(p.get(key)));
        EmbeddedBroker broker = new EmbeddedBroker(settings.broker(), settings.jms(), Jms.PASSWORD,
                settings.limits().maxMessageBytes());
        broker.start();
        try (Jms jms = Jms.inVm()) {
            List<String> ids = new ArrayList<>();
            for (String body : bodies) {
                ids.add(jms.send(settings.jms().queue(), body, Map.of()));
            }
            assertThat(jms.browse(settings.jms().queue())).hasSize(bodies.size());
            return ids;
        } finally {
            broker.stop();
        }
    }

    // ---- what the server received

    private static Map<String, Integer> markers(List<TestSmtpServer.Received> received) {
        Map<String, Integer> copies = new TreeMap<>();
        received.forEach(mail -> copies.merge(marker(mail), 1, Integer::sum));
        return copies;
    }

    private static String marker(TestSmtpServer.Received mail) {
        try {
            Matcher m = MARKER.matcher(String.valueOf(mail.message().getSubject()));
            return m.find() ? m.group(1) : "(no marker: " + mail.message().getSubject() + ")";
        } catch (MessagingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String deliveryId(TestSmtpServer.Received mail) {
        try {
            return mail.message().getHeader("X-Mailgate-Id", null);
        } catch (MessagingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String describe(jakarta.jms.Message message) {
        try {
            return message.getJMSMessageID() + " " + message.getStringProperty("mailgateId");
        } catch (jakarta.jms.JMSException e) {
            return message.toString();
        }
    }

    // ---- the folders and the journal

    /** Requests still waiting in the outbox folder itself. */
    private static List<String> pending(Path outbox) {
        return files(outbox).stream().filter(f -> f.endsWith(".json") && !f.startsWith(".")).toList();
    }

    private static List<String> files(Path folder) {
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        try (Stream<Path> list = Files.list(folder)) {
            return list.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The request files in an outcome folder (not their receipts or error files). */
    private static Set<String> outcomes(Path folder, String recordSuffix) {
        return files(folder).stream().filter(f -> !f.endsWith(recordSuffix) && !f.startsWith("."))
                .collect(Collectors.toCollection(TreeSet::new));
    }

    /** The delivery journal (H2 in data/journal/), read while no gateway has it open. */
    private List<Row> journal() throws SQLException {
        String url = "jdbc:h2:file:" + mailgate.dir().resolve("data/journal/mailgate").toAbsolutePath()
                + ";IFEXISTS=TRUE";
        List<Row> rows = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(url, "", "");
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT id, channel, source, state FROM delivery")) {
            while (rs.next()) {
                rows.add(new Row(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)));
            }
        }
        return rows;
    }
}
