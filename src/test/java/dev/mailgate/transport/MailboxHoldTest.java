package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * An authentication fault is the tenant's, not the message's: after the fresh-token retry fails, sending as that
 * mailbox is held, its requests stay pending, health says what is wrong and how to fix it, and a periodic probe
 * resumes sending once the mailbox can authenticate again.
 */
class MailboxHoldTest {

    private static final String SHARED = "shared@contoso.test";
    private static final String FROM_SHARED = """
            {"from": "shared@contoso.test", "to": "alice@example.com", "subject": "Hello", "text": "Hi"}
            """;
    private static final String API_KEY = "hold-test-api-key-0123456789";

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Gateway gateway;
    private Http http;

    @BeforeEach
    void servers() {
        entra = new TestEntra(tls, null);
        smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());
    }

    private void start(Map<String, String> extra) {
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
        properties.put("mailgate.delivery.auth-probe-interval", "500ms");
        properties.put("mailgate.http.api-keys", API_KEY);
        properties.putAll(extra);
        gateway = Gateway.start(dir, properties);
        http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));
    }

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
        smtp.close();
        entra.close();
    }

    @Test
    void held_mailbox_keeps_its_requests_pending_reports_the_fix_and_resumes_when_the_probe_authenticates()
            throws Exception {
        start(Map.of());
        // ready once the outbox has been looked at
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> http.get(API_KEY, "/api/v1/health").statusCode() == 200);
        smtp.refuseMailbox(SHARED);

        gateway.drop("first.json", FROM_SHARED);
        Journal.Entry held = gateway.awaitHeld(SHARED);
        gateway.drop("second.json", FROM_SHARED);
        gateway.drop("other.json", """
                {"to": "bob@example.com", "subject": "Not held", "text": "Hi"}
                """);
        gateway.awaitSent("other.json");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> gateway.journal().waiting(SHARED).size() == 2);

        // pending, not bounced: both files wait in .queued/, their requests are RETRYING with the fix
        assertThat(held.failureReason()).contains(SHARED);
        assertThat(held.failureAdvice()).contains("Add-MailboxPermission");
        assertThat(gateway.queued("first.json")).exists();
        assertThat(gateway.queued("second.json")).exists();
        assertThat(gateway.outbox().resolve(".failed")).doesNotExist();
        for (String id : gateway.journal().waiting(SHARED)) {
            Journal.Entry entry = gateway.journal().find(id).orElseThrow();
            assertThat(entry.state()).isEqualTo(Journal.State.RETRYING);
            assertThat(entry.failureCategory()).isEqualTo("auth");
        }
        // only the other mailbox's mail went out
        assertThat(smtp.received()).extracting(TestSmtpServer.Received::mailbox).containsExactly(Gateway.SENDER);

        HttpResponse<String> down = http.get(API_KEY, "/api/v1/health");
        assertThat(down.statusCode()).isEqualTo(503);
        JsonNode health = Http.json(down);
        assertThat(health.path("status").asText()).isEqualTo("DOWN");
        JsonNode mailboxes = check(health, "mailboxes");
        assertThat(mailboxes.path("status").asText()).isEqualTo("DOWN");
        assertThat(mailboxes.path("message").asText()).contains("sending as " + SHARED + " is held");
        JsonNode details = mailboxes.path("details");
        assertThat(details.path("mailbox." + SHARED + ".state").asText()).isEqualTo("held");
        assertThat(details.path("mailbox." + SHARED + ".serverReply").asText()).startsWith("535 5.7.3");
        assertThat(details.path("mailbox." + SHARED + ".fix").asText()).contains("Add-MailboxPermission");
        assertThat(details.path("mailbox." + SHARED + ".waiting").asText()).isEqualTo("2");
        // the probes for load balancers need no key and stay UP: the gateway still serves every other mailbox
        HttpResponse<String> ready = http.get(null, "/health/ready");
        HttpResponse<String> live = http.get(null, "/health/live");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.body()).isEqualTo("{\"status\":\"UP\"}");
        assertThat(live.statusCode()).isEqualTo(200);
        assertThat(http.get(null, "/api/v1/health").statusCode()).isEqualTo(401);

        // the administrator grants access: the probe authenticates and both requests go out by themselves
        int authAttemptsWhileHeld = smtp.saslResponses().size();
        smtp.acceptMailbox(SHARED);
        gateway.awaitSent("first.json");
        gateway.awaitSent("second.json");

        assertThat(smtp.received()).extracting(TestSmtpServer.Received::mailbox)
                .containsExactlyInAnyOrder(Gateway.SENDER, SHARED, SHARED);
        assertThat(gateway.journal().waiting(SHARED)).isEmpty();
        HttpResponse<String> up = http.get(API_KEY, "/api/v1/health");
        assertThat(up.statusCode()).isEqualTo(200);
        assertThat(check(Http.json(up), "mailboxes").path("status").asText()).isEqualTo("UP");
        // held means quiet: a probe now and then, not an AUTH per message per retry, and no token requests from
        // the probes: the first token, the fresh one that was refused too, and the one after that (the cache
        // dropped the refused one), however many probe rounds ran
        assertThat(authAttemptsWhileHeld).isLessThan(15);
        assertThat(entra.requests()).isEqualTo(3);
    }

    @Test
    void a_long_hold_does_not_use_up_the_time_a_request_has_before_it_is_given_up() throws Exception {
        start(Map.of("mailgate.delivery.give-up-after", "1s"));
        smtp.refuseMailbox(SHARED);
        gateway.drop("first.json", FROM_SHARED);
        gateway.awaitHeld(SHARED);
        // held for three times give-up-after, then the server is busy once when the mailbox sends again
        Thread.sleep(3000);
        smtp.replyToNextData(451, "4.7.500 Server busy. Please try again later. [Hostname=TEST]");
        smtp.acceptMailbox(SHARED);

        JsonNode receipt = gateway.awaitSent("first.json");

        assertThat(receipt.path("attempts").asInt()).isEqualTo(3);
        assertThat(smtp.dataCommands()).isEqualTo(2);
        // about six probe rounds while held, none of which asked Entra ID for a token: the first token, the fresh
        // one that was refused too, and one after the cache dropped that; the probes kept the third
        assertThat(entra.requests()).isEqualTo(3);
    }

    private static JsonNode check(JsonNode health, String id) {
        for (JsonNode check : health.path("checks")) {
            if (id.equals(check.path("id").asText())) {
                return check;
            }
        }
        throw new AssertionError("no health check " + id + " in " + health.toPrettyString());
    }
}
