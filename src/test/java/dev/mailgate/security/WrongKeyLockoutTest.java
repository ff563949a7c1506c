package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.support.Http;
import dev.mailgate.support.MailgateExtension;

/**
 * Issue 14, item 8: the wrong-key lock-out was kept per address, so one local process sending bad keys locked every
 * other local client out, right key or not. A request with a valid key is now never refused for another client's
 * failures; only requests without a valid key are throttled.
 */
class WrongKeyLockoutTest {

    private static final String HELLO = "{\"from\": \"sender@contoso.test\", \"to\": \"alice@example.com\", "
            + "\"subject\": \"Still served\", \"text\": \"Hi\"}";

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant();

    @Test
    void a_local_client_hammering_wrong_keys_never_locks_out_a_client_with_the_right_key() {
        // two clients, two connection pools, one address (127.0.0.1): as two programs on the gateway's own machine
        Http attacker = new Http(Integer.parseInt(mailgate.properties().get("mailgate.http.port")));
        Http client = mailgate.http();
        List<Integer> wrong = new ArrayList<>();
        List<Integer> right = new ArrayList<>();
        HttpResponse<String> throttled = null;

        for (int round = 0; round < 40; round++) {
            for (int i = 0; i < 3; i++) {
                HttpResponse<String> answer = attacker.get("wrong-" + round + "-" + i + "-0123456789abcdef",
                        "/api/v1/openapi.yaml");
                wrong.add(answer.statusCode());
                if (answer.statusCode() == 429 && throttled == null) {
                    throttled = answer;
                }
            }
            right.add(client.get(MailgateExtension.API_KEY, "/api/v1/openapi.yaml").statusCode());
            if (round % 10 == 9) {
                right.add(client.postJson(MailgateExtension.API_KEY, HELLO).statusCode());
            }
        }

        // the right key is served every time, before and after the other client is throttled
        assertThat(right).hasSize(44).containsOnly(200, 202).contains(202);
        // the wrong keys: 60 a minute are answered 401, then the address gets 429 for requests without a valid key
        assertThat(wrong.subList(0, 60)).containsOnly(401);
        assertThat(wrong.subList(60, wrong.size())).contains(429).isSubsetOf(401, 429);
        assertThat(throttled).isNotNull();
        assertThat(throttled.headers().firstValue("Retry-After")).isPresent();
        assertThat(Http.json(throttled).path("detail").asText()).contains("wrong or missing API keys");
        // and what the right key sent was sent
        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> mailgate.smtp().received().stream().filter(r -> r.text().contains("Still served"))
                        .count() == 4);
    }
}
