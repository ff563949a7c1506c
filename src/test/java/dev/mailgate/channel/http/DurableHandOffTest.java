package dev.mailgate.channel.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.outcome.Journal;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/** What {@code 202 Accepted} promises: the request survives the gateway stopping before it was delivered. */
class DurableHandOffTest {

    private static final String KEY = "test-api-key-0123456789abcdef";

    @TempDir
    Path dir;

    @Test
    void request_accepted_but_not_yet_delivered_when_the_gateway_stops_is_delivered_after_the_restart() {
        SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
        try (TestEntra entra = new TestEntra(tls, null);
                TestSmtpServer smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens())) {
            Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
            properties.put("mailgate.http.api-keys", KEY);
            properties.put("mailgate.delivery.max-attempts", "50");
            properties.put("mailgate.delivery.initial-delay", "300ms");
            properties.put("mailgate.delivery.max-delay", "300ms");
            // do not wait for the retrying exchange when stopping: it must go back to the queue, not be lost
            properties.put("mailgate.delivery.shutdown-timeout", "1s");
            smtp.deferEveryData(true);
            String id;
            try (Gateway first = Gateway.start(dir, properties)) {
                Http http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));
                id = Http.json(http.postJson(KEY, "{\"to\": \"late@example.com\", \"subject\": \"Survives\", "
                        + "\"text\": \"x\"}")).path("id").asText();
                first.awaitState(id, Journal.State.RETRYING);
            }
            assertThat(smtp.received()).isEmpty();
            smtp.deferEveryData(false);

            try (Gateway second = Gateway.start(dir, properties)) {
                Journal.Entry sent = second.awaitState(id, Journal.State.SENT);

                assertThat(smtp.received()).hasSize(1);
                assertThat(smtp.received().get(0).text()).contains("X-Mailgate-Id: " + id, "Subject: Survives");
                assertThat(sent.events()).extracting(Journal.Event::state)
                        .contains(Journal.State.QUEUED, Journal.State.RETRYING, Journal.State.SENT);
            }
        }
    }
}
