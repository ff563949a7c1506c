package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.support.Http;
import dev.mailgate.support.Jms;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * Issue 14, item 9: clients sharing one gateway are kept apart. Two API keys given to two applications, as bare keys
 * (how most keys files look): the one cannot read the state of the other's mail, nor claim the other's idempotency key
 * first so that the other's mail is taken for a repeat and never sent (learning its id on the way). An admin key
 * reads every request. Over real sockets, with the real gateway, broker and SMTP server.
 */
class ClientIsolationTest {

    private static final String ALICE = "alice-application-key-0123456789";
    private static final String BOB = "bob-application-key-0123456789ab";
    private static final String OPS = "operations-console-key-0123456789";

    @RegisterExtension
    final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.http.api-keys", ALICE + "," + BOB + ",ops=" + OPS + " admin");

    private static String mail(String to, String subject, String idempotencyKey) {
        return "{\"to\": \"" + to + "\", \"subject\": \"" + subject + "\", \"text\": \"x\""
                + (idempotencyKey == null ? "" : ", \"idempotencyKey\": \"" + idempotencyKey + "\"") + "}";
    }

    private String accepted(String key, String json) {
        HttpResponse<String> answer = mailgate.http().postJson(key, json);
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(202);
        return Http.json(answer).path("id").asText();
    }

    @Test
    void key_b_cannot_read_the_state_of_key_a_s_message() {
        String alices = accepted(ALICE, mail("payroll@example.com", "Salaries", null));
        mailgate.gateway().awaitState(alices, Journal.State.SENT);
        String unknown = UUID.randomUUID().toString();

        HttpResponse<String> bobReads = mailgate.http().get(BOB, "/api/v1/messages/" + alices);
        HttpResponse<String> bobGuesses = mailgate.http().get(BOB, "/api/v1/messages/" + unknown);

        // the same answer as for an id that does not exist: nothing confirms that Alice's id is one
        assertThat(bobReads.statusCode()).isEqualTo(404);
        assertThat(bobReads.body()).isEqualTo(bobGuesses.body()).doesNotContain("payroll", alices);
        assertThat(bobReads.headers().map().keySet()).isEqualTo(bobGuesses.headers().map().keySet());
        HttpResponse<String> aliceReads = mailgate.http().get(ALICE, "/api/v1/messages/" + alices);
        assertThat(aliceReads.statusCode()).isEqualTo(200);
        assertThat(Http.json(aliceReads).path("state").asText()).isEqualTo("sent");
    }

    @Test
    void key_b_cannot_pre_claim_key_a_s_idempotency_key() {
        // Bob guesses the key Alice's application will use for tonight's invoice run
        String bobs = accepted(BOB, mail("bob@example.com", "Claimed first", "invoice-2026-11-28"));
        mailgate.gateway().awaitState(bobs, Journal.State.SENT);

        HttpResponse<String> alice = mailgate.http().postJson(ALICE, mail("customer@example.com", "Your invoice",
                "invoice-2026-11-28"));

        assertThat(alice.statusCode()).isEqualTo(202);
        assertThat(alice.headers().firstValue("Idempotent-Replayed")).isEmpty();
        JsonNode answer = Http.json(alice);
        assertThat(answer.path("state").asText()).isEqualTo("queued");
        String alices = answer.path("id").asText();
        assertThat(alices).as("Alice does not learn Bob's id").isNotEqualTo(bobs);
        mailgate.gateway().awaitState(alices, Journal.State.SENT);
        List<TestSmtpServer.Received> received = mailgate.smtp().awaitReceived(2);
        assertThat(received).extracting(r -> r.recipients().get(0))
                .containsExactly("bob@example.com", "customer@example.com");
    }

    @Test
    void the_same_key_twice_from_one_client_is_still_a_replay() {
        String first = accepted(ALICE, mail("customer@example.com", "Your invoice", "invoice-4711"));

        HttpResponse<String> again = mailgate.http().postJson(ALICE, mail("customer@example.com", "Your invoice",
                "invoice-4711"));

        assertThat(again.statusCode()).isEqualTo(202);
        assertThat(again.headers().firstValue("Idempotent-Replayed")).contains("true");
        assertThat(Http.json(again).path("id").asText()).isEqualTo(first);
        mailgate.gateway().awaitState(first, Journal.State.SENT);
        assertThat(mailgate.smtp().awaitReceived(1)).hasSize(1);
    }

    @Test
    void an_admin_key_reads_every_client_s_messages() {
        String alices = accepted(ALICE, mail("a@example.com", "From Alice", null));
        String bobs = accepted(BOB, mail("b@example.com", "From Bob", null));
        mailgate.gateway().awaitState(alices, Journal.State.SENT);
        mailgate.gateway().awaitState(bobs, Journal.State.SENT);

        for (String id : List.of(alices, bobs)) {
            HttpResponse<String> read = mailgate.http().get(OPS, "/api/v1/messages/" + id);
            assertThat(read.statusCode()).isEqualTo(200);
            assertThat(Http.json(read).path("id").asText()).isEqualTo(id);
        }
    }

    @Test
    void an_idempotency_key_is_the_channel_s_own_too() throws Exception {
        // an HTTP client, a JMS producer and whoever writes to the outbox happen to use the same key: three requests
        String viaHttp = accepted(ALICE, mail("http@example.com", "Over HTTP", "daily-report"));
        mailgate.gateway().awaitState(viaHttp, Journal.State.SENT);
        mailgate.gateway().drop("report.json", mail("outbox@example.com", "From the outbox", "daily-report"));
        String viaOutbox = mailgate.gateway().awaitSent("report.json").path("id").asText();
        try (Jms jms = Jms.inVm()) {
            String first = jms.send("mailgate.outbox", mail("jms@example.com", "Over JMS", "daily-report"), Map.of());
            Journal.Entry viaJms = mailgate.gateway().awaitState(idOf(first), Journal.State.SENT);
            assertThat(mailgate.smtp().awaitReceived(3)).extracting(r -> r.recipients().get(0))
                    .containsExactly("http@example.com", "outbox@example.com", "jms@example.com");
            // each recorded under its principal: the key's name, the folder, the broker user
            assertThat(mailgate.gateway().journal().find(viaHttp).orElseThrow().principal()).startsWith("http:key-");
            assertThat(mailgate.gateway().journal().find(viaOutbox).orElseThrow().principal())
                    .isEqualTo("outbox:" + mailgate.gateway().outbox().toAbsolutePath().normalize());
            assertThat(viaJms.principal()).isEqualTo("jms:mailgate");

            // within the channel, the same key from the same producer is still the one request
            String again = jms.send("mailgate.outbox", mail("jms@example.com", "Over JMS", "daily-report"), Map.of());
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> mailgate.logText()
                    .contains("Not sending JMS message " + again + " again: it repeats delivery " + idOf(first)));
        }
        assertThat(mailgate.smtp().received()).hasSize(3);
    }

    private static String idOf(String jmsMessageId) {
        return UUID.nameUUIDFromBytes(("jms:" + jmsMessageId).getBytes(StandardCharsets.UTF_8)).toString();
    }
}
