package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.channel.outbox.OutboxFiles;
import dev.mailgate.outcome.Journal;
import dev.mailgate.support.FolderFlipper;
import dev.mailgate.support.MailgateExtension;

/**
 * Someone who may write to the outbox swaps {@code .queued/} and {@code .sent/} for symbolic links to another watched
 * folder, over and over, while requests flow: a file moved by path would land in that folder, and its route would
 * send it again under that folder's principal. Mailgate moves files only into the folders it opened without
 * following a link, so no file ever reaches the other folder, none is sent twice, and each ends in exactly one place.
 */
class OutboxFolderSwapTest {

    private static final Path ROUTES = routes();

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.routes.dir", ROUTES.toString());

    private static final int REQUESTS = 40;

    /** The repository's JMS and outbox routes, and a second requests folder next to the outbox: {@code team-b/}. */
    private static Path routes() {
        try {
            Path dir = Files.createTempDirectory("mailgate-swap-routes");
            Files.copy(Path.of("routes/jms.yaml"), dir.resolve("jms.yaml"));
            Files.copy(Path.of("routes/outbox.yaml"), dir.resolve("outbox.yaml"));
            Files.writeString(dir.resolve("team-b.yaml"), """
                    - templatedRoute:
                        routeTemplateRef: mailgate-outbox
                        routeId: team-b
                        parameters:
                          - name: folder
                            value: "{{mailgate.outbox.dir}}/../team-b"
                    """);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @AfterAll
    static void removeRoutes() throws IOException {
        try (Stream<Path> files = Files.list(ROUTES)) {
            for (Path file : files.toList()) {
                Files.delete(file);
            }
        }
        Files.delete(ROUTES);
    }

    private long mailsWithSubject(String subject) {
        return mailgate.smtp().received().stream().filter(r -> r.text().contains("Subject: " + subject + "\r\n"))
                .count();
    }

    @Test
    void queued_and_sent_swapped_for_links_to_another_watched_folder_never_hand_it_a_file() throws Exception {
        Path outbox = mailgate.gateway().outbox();
        Path teamB = mailgate.dir().resolve("team-b");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> Files.isDirectory(teamB));
        Map<String, String> ids = new LinkedHashMap<>();
        int links;
        try (FolderFlipper queued = new FolderFlipper(outbox.resolve(".queued"), Path.of("../team-b"));
                FolderFlipper sent = new FolderFlipper(outbox.resolve(".sent"), Path.of("../team-b"))) {
            for (int i = 0; i < REQUESTS; i++) {
                Path file = mailgate.gateway().drop("swap-" + i + ".json", "{\"to\": \"swap@example.com\", "
                        + "\"subject\": \"Swap " + i + "\", \"text\": \"x\"}");
                ids.put(file.getFileName().toString(), OutboxFiles.deliveryId(file));
                if (i % 10 == 9) {
                    Thread.sleep(300);
                }
            }
            // every request has its outcome in the journal (a move refused meanwhile leaves the file to the restart)
            Awaitility.await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(100))
                    .until(() -> ids.values().stream().allMatch(id -> mailgate.gateway().journal().find(id)
                            .map(e -> e.state() == Journal.State.SENT || e.state() == Journal.State.FAILED)
                            .orElse(false)));
            links = queued.links() + sent.links();
        }
        // a file whose move was refused while a folder was a link is settled by the next start; then each file is
        // in its outcome folder with its record (or, had it been handed to team-b, nowhere in the outbox)
        mailgate.restart();

        try {
            Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> ids.keySet().stream().allMatch(name -> settled(outbox, name)));
        } catch (ConditionTimeoutException e) {
            // reported below, after what reached team-b/
        }

        assertThat(links).as("times a folder was a link").isGreaterThan(100);
        assertThat(regularFiles(teamB)).as("files that reached team-b/").isEmpty();
        for (String name : ids.keySet()) {
            String subject = "Swap " + name.replaceAll("\\D", "");
            assertThat(mailsWithSubject(subject)).as("mails of %s", name).isLessThanOrEqualTo(1);
        }
        assertThat(ids.keySet().stream().filter(name -> !settled(outbox, name)).map(name -> whereIs(outbox, name)))
                .as("files without an outcome").isEmpty();
        int sentCount = 0;
        for (Map.Entry<String, String> request : ids.entrySet()) {
            String name = request.getKey();
            String subject = "Swap " + name.replaceAll("\\D", "");
            List<String> outcome = outcomes(outbox, name);
            assertThat(outcome).as("%s ends in exactly one place", name).hasSize(1);
            Journal.State state = mailgate.gateway().journal().find(request.getValue()).orElseThrow().state();
            if (outcome.get(0).equals(".sent")) {
                sentCount++;
                assertThat(state).as(name).isEqualTo(Journal.State.SENT);
                assertThat(mailsWithSubject(subject)).as("mails of %s", name).isEqualTo(1);
            } else {
                assertThat(state).as(name).isEqualTo(Journal.State.FAILED);
                assertThat(mailsWithSubject(subject)).as("mails of %s", name).isZero();
            }
        }
        assertThat(mailgate.smtp().received()).hasSize(sentCount);
        assertThat(mailgate.logText()).doesNotContain("team-b/swap-");
    }

    /** In an outcome folder with its record, or (had it been handed to team-b) nowhere in the outbox. */
    private static boolean settled(Path outbox, String name) {
        return !outcomes(outbox, name).isEmpty() || whereIs(outbox, name).endsWith(" nowhere");
    }

    private static String whereIs(Path outbox, String name) {
        List<String> places = Stream.of("", ".queued", ".sent", ".failed")
                .filter(folder -> Files.exists(outbox.resolve(folder).resolve(name), LinkOption.NOFOLLOW_LINKS))
                .map(folder -> "outbox/" + folder).toList();
        return name + " in " + (places.isEmpty() ? "nowhere" : String.join(", ", places) + " (without its record)");
    }

    /** The outcome folders that hold {@code name} with its record. */
    private static List<String> outcomes(Path outbox, String name) {
        List<String> found = new ArrayList<>();
        for (String folder : List.of(".sent", ".failed")) {
            String suffix = folder.equals(".sent") ? ".receipt.json" : ".error.json";
            Path dir = outbox.resolve(folder);
            if (Files.isRegularFile(dir.resolve(name), LinkOption.NOFOLLOW_LINKS)
                    && Files.isRegularFile(dir.resolve(name + suffix), LinkOption.NOFOLLOW_LINKS)) {
                found.add(folder);
            }
        }
        return found;
    }

    private static Set<Path> regularFiles(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            return Set.copyOf(walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).toList());
        }
    }
}
