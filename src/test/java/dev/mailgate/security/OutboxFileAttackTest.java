package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpResponse;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.stream.Stream;

import jakarta.jms.Message;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.support.Http;
import dev.mailgate.support.Jms;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.SpecialFiles;

/**
 * What someone who may only drop files into the outbox can do with links and with content that is not a request: the
 * gateway's own secret files never reach an error file, a log line or a mail, and no error message quotes a document
 * that could not be parsed (outbox, HTTP API and JMS alike).
 */
class OutboxFileAttackTest {

    /** A file still waiting after this turns readiness down (the default is 5 minutes). */
    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.outbox.stalled-after", "3s");

    private static final String NEXT = "{\"to\": \"next@example.com\", \"subject\": \"Next\", \"text\": \"fine\"}";

    /** A secret file of the gateway's in {@code data/}, with content no request would have. */
    private static String secretFile(String name) throws IOException {
        // letters, digits and underscores only: Jackson's "Unrecognized token '...'" quotes all of it
        String secret = "S3cret_" + name.replace('-', '_') + "_" + System.nanoTime();
        Files.createDirectories(mailgate.dir().resolve("data"));
        Files.writeString(mailgate.dir().resolve("data").resolve(name), secret + "\n");
        return secret;
    }

    /** The secret is nowhere an attacker or an operator could read it: log, error files, receipts, mail. */
    private static void assertNowhere(String secret) throws IOException {
        assertThat(mailgate.logText()).doesNotContain(secret);
        try (Stream<Path> files = Files.walk(mailgate.dir().resolve("outbox"))) {
            for (Path file : files.filter(f -> Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)).toList()) {
                assertThat(Files.readString(file, StandardCharsets.ISO_8859_1)).as("%s", file).doesNotContain(secret);
            }
        }
        assertThat(mailgate.smtp().received()).noneMatch(r -> r.text().contains(secret));
    }

    @Test
    void outbox_symlink_to_the_broker_password_is_refused_without_echoing_it() throws Exception {
        String secret = secretFile("broker-password");
        Path link = Files.createSymbolicLink(mailgate.gateway().outbox().resolve("b.json"),
                Path.of("../data/broker-password"));
        mailgate.gateway().drop("after-b.json", NEXT);

        JsonNode error = mailgate.gateway().awaitFailed("b.json");
        mailgate.gateway().awaitSent("after-b.json");

        assertThat(error.path("category").asText()).isEqualTo("invalid-request");
        assertThat(error.path("reason").asText()).contains("b.json is a symbolic link to ../data/broker-password",
                "never follows a link", "did not open it");
        assertThat(error.path("fix").asText()).contains("plain file");
        // the link itself was moved, not what it points to
        Path failed = mailgate.gateway().outbox().resolve(".failed/b.json");
        assertThat(Files.isSymbolicLink(failed)).isTrue();
        assertThat(link).doesNotExist();
        assertThat(mailgate.dir().resolve("data/broker-password")).hasContent(secret);
        assertNowhere(secret);
    }

    @Test
    void outbox_symlinks_as_eml_and_as_a_report_pdf_are_refused_and_nothing_is_mailed() throws Exception {
        String apiKey = secretFile("http-api-key");
        String clientSecret = secretFile("client-secret");
        Files.createSymbolicLink(mailgate.gateway().outbox().resolve("k.eml"), Path.of("../data/http-api-key"));
        Files.createDirectories(mailgate.gateway().outbox().resolve("reports"));
        // the reports route mails every PDF to its recipients: a link would mail the client secret
        Files.createSymbolicLink(mailgate.gateway().outbox().resolve("reports/q.pdf"),
                Path.of("../../data/client-secret"));

        JsonNode eml = mailgate.gateway().awaitFailed("k.eml");
        JsonNode pdf = mailgate.gateway().awaitFailed("reports/q.pdf");

        assertThat(eml.path("reason").asText()).contains("k.eml is a symbolic link");
        assertThat(pdf.path("reason").asText()).contains("q.pdf is a symbolic link");
        assertNowhere(apiKey);
        assertNowhere(clientSecret);
    }

    @Test
    void outbox_file_that_is_not_json_fails_with_its_position_and_is_never_quoted() throws Exception {
        String secret = "S3cret_pasted_" + System.nanoTime();
        mailgate.gateway().drop("pasted.json", "{\"to\": \"a@example.com\",\n \"subject\": " + secret + "}");
        mailgate.gateway().drop("after-pasted.json", NEXT);

        JsonNode error = mailgate.gateway().awaitFailed("pasted.json");
        mailgate.gateway().awaitSent("after-pasted.json");

        assertThat(error.path("errors").get(0).path("message").asText())
                .startsWith("is not valid JSON at line 2, column 13: a bare word where a value should be");
        // the file itself is the submitter's: it is kept in .failed/ as it was
        assertThat(mailgate.gateway().outbox().resolve(".failed/pasted.json")).content().contains(secret);
        assertThat(mailgate.logText()).doesNotContain(secret);
        assertThat(Files.readString(mailgate.gateway().outbox().resolve(".failed/pasted.json.error.json")))
                .doesNotContain(secret);
    }

    @Test
    void http_body_that_is_not_json_is_answered_with_its_position_and_never_quoted() {
        String secret = "S3cret_posted_" + System.nanoTime();

        HttpResponse<String> response = mailgate.http().postJson(MailgateExtension.API_KEY, secret);

        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode problem = Http.json(response);
        assertThat(problem.path("errors").get(0).path("message").asText())
                .startsWith("is not valid JSON at line 1, column 1: a bare word where a value should be");
        assertThat(response.body()).doesNotContain(secret);
        assertThat(mailgate.logText()).doesNotContain(secret);
    }

    @Test
    void jms_message_that_is_not_json_is_dead_lettered_without_quoting_it_in_the_reason() throws Exception {
        String secret = "S3cret_queued_" + System.nanoTime();
        try (Jms jms = Jms.inVm()) {
            jms.send("mailgate.outbox", secret, Map.of());

            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> !jms.browse("mailgate.dlq").isEmpty());
            Message dead = jms.browse("mailgate.dlq").get(0);

            assertThat(dead.getStringProperty("mailgateErrors")).contains("is not valid JSON at line 1, column 1")
                    .doesNotContain(secret);
            assertThat(dead.getStringProperty("mailgateReason")).doesNotContain(secret);
        }
        assertThat(mailgate.logText()).doesNotContain(secret);
    }

    @Test
    void a_link_planted_under_the_error_file_s_temporary_name_is_not_written_through() throws Exception {
        Path victim = mailgate.dir().resolve("data/victim.txt");
        Files.createDirectories(victim.getParent());
        Files.writeString(victim, "precious");
        Path failed = Files.createDirectories(mailgate.gateway().outbox().resolve(".failed"));
        Files.createSymbolicLink(failed.resolve(".planted.json.error.json.tmp"), Path.of("../../data/victim.txt"));
        mailgate.gateway().drop("planted.json", "{\"to\": \"bad@\"}");

        JsonNode error = mailgate.gateway().awaitFailed("planted.json");

        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo("to[0]");
        assertThat(victim).hasContent("precious");
    }

    // --- entries that are not plain files -------------------------------------------------------------------------

    @Test
    void outbox_fifo_is_refused_without_opening_it_and_the_next_file_is_sent() throws Exception {
        Path fifo = SpecialFiles.mkfifo(mailgate.gateway().outbox().resolve("fifo.json"));
        try {
            mailgate.gateway().drop("after-fifo.json", NEXT);

            JsonNode error = mailgate.gateway().awaitFailed("fifo.json");
            mailgate.gateway().awaitSent("after-fifo.json");

            assertThat(error.path("reason").asText()).contains("fifo.json is a FIFO (named pipe), not a regular file",
                    "did not open it");
            assertThat(error.path("fix").asText()).contains("remove it");
            Path moved = mailgate.gateway().outbox().resolve(".failed/fifo.json");
            assertThat(Files.isRegularFile(moved, LinkOption.NOFOLLOW_LINKS)).isFalse();
            assertThat(Files.exists(moved, LinkOption.NOFOLLOW_LINKS)).isTrue();
            assertThat(mailgate.http().get(null, "/health/ready").statusCode()).isEqualTo(200);
        } finally {
            SpecialFiles.release(fifo);
        }
    }

    @Test
    void socket_folder_and_dangling_link_named_like_requests_are_refused_with_what_they_are() throws Exception {
        Path outbox = mailgate.gateway().outbox();
        try (ServerSocketChannel socket = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            socket.bind(UnixDomainSocketAddress.of(outbox.resolve("sock.json")));
            Files.createDirectories(outbox.resolve("folder.json"));
            Files.writeString(outbox.resolve("folder.json/inside.txt"), "x");
            Files.createSymbolicLink(outbox.resolve("gone.eml"), Path.of("../nowhere/gone.eml"));

            JsonNode sock = mailgate.gateway().awaitFailed("sock.json");
            JsonNode folder = mailgate.gateway().awaitFailed("folder.json");
            JsonNode gone = mailgate.gateway().awaitFailed("gone.eml");

            assertThat(sock.path("reason").asText()).contains("sock.json is a socket, not a regular file");
            assertThat(folder.path("reason").asText()).contains("folder.json is a folder named like a request");
            assertThat(folder.path("fix").asText()).contains("move the folder out of the outbox");
            assertThat(outbox.resolve(".failed/folder.json/inside.txt")).hasContent("x");
            assertThat(gone.path("reason").asText()).contains("gone.eml is a symbolic link to ../nowhere/gone.eml");
            assertThat(mailgate.logText()).contains("Refused " + outbox.resolve("folder.json"));
        }
    }

    @Test
    void a_file_waiting_longer_than_stalled_after_is_named_in_the_health_report_but_keeps_the_gateway_ready()
            throws Exception {
        Path late = mailgate.gateway().drop("late.json", NEXT);
        // written by a machine whose clock is a day ahead: not taken until that time has come
        Files.setLastModifiedTime(late, FileTime.from(Instant.now().plus(Duration.ofDays(1))));

        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> mailgate.http().get(MailgateExtension.API_KEY, "/api/v1/health").statusCode() == 503);
        JsonNode health = Http.json(mailgate.http().get(MailgateExtension.API_KEY, "/api/v1/health"));
        JsonNode backlog = check(health, "outbox-backlog");
        assertThat(backlog.path("status").asText()).isEqualTo("DOWN");
        assertThat(backlog.path("message").asText()).startsWith("outbox/late.json has waited")
                .contains("mailgate.outbox.stalled-after=3 s");
        assertThat(backlog.path("details").path("fix").asText()).contains("modification time is in the future",
                "correct the clock");
        assertThat(backlog.path("details").path("outbox.oldestWaiting").asText()).isEqualTo("late.json");
        assertThat(mailgate.logLines()).filteredOn(l -> l.contains("late.json waits")).hasSize(1);
        // whoever may write to the outbox can make a file wait: that must not take the gateway (its HTTP API too)
        // out of a load balancer's rotation, since the channel itself still works
        assertThat(check(health, "outbox").path("status").asText()).isEqualTo("UP");
        assertThat(mailgate.http().get(null, "/health/ready").statusCode()).isEqualTo(200);

        Files.setLastModifiedTime(late, FileTime.from(Instant.now().minus(Duration.ofMinutes(1))));

        mailgate.gateway().awaitSent("late.json");
        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> mailgate.http().get(MailgateExtension.API_KEY, "/api/v1/health").statusCode() == 200);
    }

    @Test
    void a_file_that_keeps_changing_holds_the_channel_in_its_read_lock_but_keeps_the_gateway_ready() throws Exception {
        // Camel's read lock waits up to its timeout (10 s here) for a file to stop changing: longer than
        // stalled-after (3 s). Whoever may write to the outbox can keep files changing; the gateway must stay ready
        Path busy = mailgate.gateway().outbox().resolve("busy.json");
        long until = System.nanoTime() + Duration.ofSeconds(8).toNanos();
        int notReady = 0;
        int samples = 0;
        while (System.nanoTime() < until) {
            Files.writeString(busy, NEXT + " ".repeat(samples % 7));
            if (mailgate.http().get(null, "/health/ready").statusCode() != 200) {
                notReady++;
            }
            samples++;
            Thread.sleep(100);
        }
        assertThat(notReady).as("readiness answers that were not 200, of %d", samples).isZero();

        // once it stops changing it is taken like any other. On a machine so busy that this loop paused for longer
        // than the settle time, Mailgate may have taken the file while it was still being written, and then it is
        // refused as changed while read (never sent half-written): both are right, and the channel goes on
        Path outbox = mailgate.gateway().outbox();
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(outbox.resolve(
                ".sent/busy.json.receipt.json")) || Files.exists(outbox.resolve(".failed/busy.json.error.json")));
        if (Files.exists(outbox.resolve(".failed/busy.json.error.json"))) {
            assertThat(Files.readString(outbox.resolve(".failed/busy.json.error.json")))
                    .contains("busy.json changed while Mailgate read it");
        }
        mailgate.gateway().drop("after-busy.json", NEXT);
        mailgate.gateway().awaitSent("after-busy.json");
    }

    @Test
    void an_outbox_channel_that_stops_looking_at_its_folder_turns_readiness_down_naming_it() throws Exception {
        // what a hanging read did to the consumer's thread, before reads were bounded: no poll, no file taken
        mailgate.gateway().context().getRouteController().suspendRoute("outbox");
        try {
            // (Camel's own check of the route says it is suspended at once; Mailgate's own says why it matters)
            JsonNode outbox = Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> check(Http.json(
                    mailgate.http().get(MailgateExtension.API_KEY, "/api/v1/health")), "outbox"),
                    c -> c.path("status").asText().equals("DOWN"));
            assertThat(mailgate.http().get(null, "/health/ready").statusCode()).isEqualTo(503);
            assertThat(outbox.path("message").asText()).startsWith("the channel of outbox has not looked at its "
                    + "folder since").contains("mailgate.outbox.stalled-after=3 s");
            assertThat(outbox.path("details").path("fix").asText()).contains("thread dump");
        } finally {
            mailgate.gateway().context().getRouteController().resumeRoute("outbox");
        }
        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> mailgate.http().get(null, "/health/ready").statusCode() == 200);
    }

    private static JsonNode check(JsonNode health, String id) {
        for (JsonNode check : health.path("checks")) {
            if (check.path("id").asText().equals(id)) {
                return check;
            }
        }
        throw new AssertionError("no " + id + " check in " + health.toPrettyString());
    }
}
