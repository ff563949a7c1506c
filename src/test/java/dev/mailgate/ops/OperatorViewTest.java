package dev.mailgate.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import org.slf4j.event.KeyValuePair;

import com.fasterxml.jackson.databind.JsonNode;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import dev.mailgate.outcome.DeliveryLog;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * What an operator sees of a running gateway: one delivery line per outcome, the Prometheus metrics and the health
 * report, after real sends against the local SMTP server and token endpoint.
 */
class OperatorViewTest {

    private static final String API_KEY = "operator-view-api-key-0123456789";

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private final ListAppender<ILoggingEvent> deliveries = new ListAppender<>();
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Gateway gateway;
    private Http http;

    @BeforeEach
    void start() {
        entra = new TestEntra(tls, null);
        smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
        properties.put("mailgate.http.api-keys", API_KEY);
        properties.put("mailgate.delivery.max-attempts", "2");
        gateway = Gateway.start(dir, properties);
        http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));
        deliveries.start();
        ((Logger) LoggerFactory.getLogger(DeliveryLog.LOGGER)).addAppender(deliveries);
    }

    @AfterEach
    void stop() {
        ((Logger) LoggerFactory.getLogger(DeliveryLog.LOGGER)).detachAppender(deliveries);
        gateway.close();
        smtp.close();
        entra.close();
    }

    @Test
    void each_outcome_is_one_delivery_line_with_its_fields_and_no_body() {
        gateway.drop("ok.json", """
                {"to": ["alice@example.com", "bob@example.com"], "subject": "Quarterly", "text": "SECRET-BODY-TEXT"}
                """);
        JsonNode receipt = gateway.awaitSent("ok.json");
        smtp.replyToNext(TestSmtpServer.Stage.RCPT_TO, 550, "5.1.1 User unknown");
        gateway.drop("unknown.json", """
                {"to": "nobody@example.com", "subject": "Quarterly", "text": "SECRET-BODY-TEXT"}
                """);
        gateway.awaitFailed("unknown.json");

        Map<String, Object> sent = fields(line("sent"));
        assertThat(sent).containsEntry("id", receipt.path("id").asText()).containsEntry("channel", "outbox")
                .containsEntry("mailbox", Gateway.SENDER).containsEntry("recipients", 2)
                .containsEntry("messageId", receipt.path("messageId").asText()).containsEntry("attempt", 1)
                .containsEntry("server", "localhost:" + smtp.port());
        assertThat((String) sent.get("reply")).startsWith("250");
        assertThat((Long) sent.get("durationMs")).isGreaterThanOrEqualTo(0L);
        assertThat(line("sent").getFormattedMessage()).startsWith("outcome=sent id=" + receipt.path("id").asText())
                .contains("recipients=2", "reply=\"250");

        Map<String, Object> failed = fields(line("failed"));
        assertThat(failed).containsEntry("channel", "outbox").containsEntry("mailbox", Gateway.SENDER)
                .containsEntry("category", "permanent").containsEntry("reply", "550 5.1.1 User unknown");
        assertThat((String) failed.get("fix")).contains("recipient");
        assertThat(deliveries.list).hasSize(2)
                .allSatisfy(e -> assertThat(e.getFormattedMessage()).doesNotContain("SECRET-BODY-TEXT"));
    }

    @Test
    void metrics_count_outcomes_by_channel_and_mailbox() {
        gateway.drop("ok.json", "{\"to\": \"alice@example.com\", \"subject\": \"S\", \"text\": \"T\"}");
        gateway.awaitSent("ok.json");
        smtp.replyToNext(TestSmtpServer.Stage.END_OF_DATA, 451, "4.3.2 Try again later");
        smtp.replyToNext(TestSmtpServer.Stage.END_OF_DATA, 451, "4.3.2 Try again later");
        gateway.drop("busy.json", "{\"to\": \"alice@example.com\", \"subject\": \"S\", \"text\": \"T\"}");
        gateway.awaitFailed("busy.json");
        HttpResponse<String> json = http.postJson(API_KEY, "{\"to\": \"carol@example.com\", \"subject\": \"S\", "
                + "\"text\": \"T\"}");
        assertThat(json.statusCode()).isEqualTo(202);
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> smtp.received().size() == 2);

        String mailbox = "mailbox=\"" + Gateway.SENDER + "\"";
        Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(metrics()).contains(
                "mailgate_messages_sent_total{channel=\"outbox\"," + mailbox + "} 1.0",
                "mailgate_messages_sent_total{channel=\"http\"," + mailbox + "} 1.0",
                "mailgate_messages_retried_total{channel=\"outbox\"," + mailbox + "} 1.0",
                "mailgate_messages_dead_lettered_total{channel=\"outbox\"," + mailbox + "} 1.0",
                "mailgate_send_failures_total{category=\"transient\",channel=\"outbox\"," + mailbox + "} 2.0",
                "mailgate_send_duration_seconds_count{" + mailbox + "} 2",
                "mailgate_send_duration_seconds_bucket{" + mailbox + ",le=\"60.0\"} 2",
                "mailgate_token_refreshes_total 1.0", "mailgate_token_failures_total 0.0",
                "mailgate_queue_depth 0.0", "mailgate_outbox_backlog{folder=\"outbox\"} 0.0",
                "mailgate_mailboxes_held 0.0", "jvm_memory_used_bytes"));
        assertThat(http.get(null, "/metrics").statusCode()).as("metrics without a key").isEqualTo(401);
    }

    @Test
    void a_request_waiting_for_its_mailbox_is_counted_as_a_pacing_wait() throws Exception {
        gateway.close();
        Path paced = Files.createDirectories(dir.resolve("paced"));
        Map<String, String> properties = Gateway.realTenant(paced, entra, smtp.port(), tls);
        properties.put("mailgate.http.api-keys", API_KEY);
        properties.put("mailgate.limits.messages-per-minute", "1");
        gateway = Gateway.start(paced, properties);
        http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));

        gateway.drop("first.json", "{\"to\": \"alice@example.com\", \"subject\": \"S\", \"text\": \"T\"}");
        gateway.awaitSent("first.json");
        gateway.drop("second.json", "{\"to\": \"alice@example.com\", \"subject\": \"S\", \"text\": \"T\"}");

        // one a minute: the second waits on the queue for its slot, and the wait is counted
        Awaitility.await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(metrics()).contains(
                "mailgate_pacing_waits_total{kind=\"paced\",mailbox=\"" + Gateway.SENDER + "\"} 1.0",
                "mailgate_queue_depth 1.0"));
        assertThat(smtp.received()).hasSize(1);
    }

    @Test
    void health_reports_token_mailboxes_journal_broker_outbox_and_mode() {
        gateway.drop("ok.json", "{\"to\": \"alice@example.com\", \"subject\": \"S\", \"text\": \"T\"}");
        gateway.awaitSent("ok.json");

        HttpResponse<String> response = http.get(API_KEY, "/api/v1/health");
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode health = Http.json(response);
        assertThat(check(health, "gateway").path("details").path("sandbox").asText()).isEqualTo("false");
        assertThat(check(health, "gateway").path("details").path("smtpServer").asText())
                .isEqualTo("localhost:" + smtp.port());
        JsonNode token = check(health, "token");
        assertThat(token.path("status").asText()).isEqualTo("UP");
        assertThat(token.path("details").path("validUntil").asText()).isNotBlank();
        assertThat(token.path("details").path("lastRefresh").asText()).isNotBlank();
        assertThat(token.path("details").path("refreshes").asText()).isEqualTo("1");
        JsonNode mailboxes = check(health, "mailboxes").path("details");
        assertThat(mailboxes.path("mailbox." + Gateway.SENDER + ".state").asText()).isEqualTo("sending");
        assertThat(mailboxes.path("mailbox." + Gateway.SENDER + ".lastSuccess").asText()).isNotBlank();
        for (String id : List.of("journal", "broker", "outbox")) {
            assertThat(check(health, id).path("status").asText()).as(id).isEqualTo("UP");
        }
        assertThat(http.get(null, "/health/ready").statusCode()).isEqualTo(200);
    }

    @Test
    void a_missing_outbox_folder_makes_the_gateway_unready_and_says_how_to_fix_it() throws Exception {
        Path outbox = gateway.outbox();
        Path moved = Files.move(outbox, dir.resolve("outbox-moved"));

        assertThat(http.get(null, "/health/ready").statusCode()).isEqualTo(503);
        assertThat(http.get(null, "/health/live").statusCode()).isEqualTo(200);
        JsonNode check = check(Http.json(http.get(API_KEY, "/api/v1/health")), "outbox");
        assertThat(check.path("status").asText()).isEqualTo("DOWN");
        assertThat(check.path("details").path("fix").asText()).contains("mailgate.outbox.dir");

        Files.move(moved, outbox);
        // the outbox route's consumer also reported its failed polls; it is ready again after its next poll
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> http.get(null, "/health/ready").statusCode() == 200);
    }

    @Test
    void health_shows_why_no_token_can_be_had() {
        entra.endpoint().refuse(401, "invalid_client", 7000222, "The provided client secret keys for app '"
                + TestEntra.CLIENT_ID + "' are expired.");
        gateway.drop("ok.json", "{\"to\": \"alice@example.com\", \"subject\": \"S\", \"text\": \"T\"}");

        Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode token = check(Http.json(http.get(API_KEY, "/api/v1/health")), "token");
            assertThat(token.path("status").asText()).isEqualTo("DOWN");
            assertThat(token.path("details").path("lastError").asText()).contains("AADSTS7000222");
            assertThat(token.path("details").path("fix").asText()).contains("create a new one");
        });
        assertThat(metrics()).contains("mailgate_token_failures_total 1.0");
    }

    private String metrics() {
        HttpResponse<String> response = http.get(API_KEY, "/metrics");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain; version=0.0.4");
        return response.body();
    }

    private ILoggingEvent line(String outcome) {
        return deliveries.list.stream().filter(e -> outcome.equals(fields(e).get("outcome"))).findFirst()
                .orElseThrow(() -> new AssertionError("no " + outcome + " line in " + deliveries.list));
    }

    private static Map<String, Object> fields(ILoggingEvent event) {
        Map<String, Object> fields = new LinkedHashMap<>();
        List<KeyValuePair> pairs = event.getKeyValuePairs();
        if (pairs != null) {
            pairs.forEach(kv -> fields.put(kv.key, kv.value));
        }
        return fields;
    }

    private static JsonNode check(JsonNode health, String id) {
        for (JsonNode check : health.path("checks")) {
            if (id.equals(check.path("id").asText())) {
                return check;
            }
        }
        throw new AssertionError("no " + id + " check in " + health.toPrettyString());
    }
}
