package dev.mailgate.channel.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;

/** Each API key may make {@code mailgate.http.requests-per-minute} requests; one busy client does not stop others. */
class HttpRateLimitTest {

    private static final String KEY_A = "rate-limit-key-a-0123456789";
    private static final String KEY_B = "rate-limit-key-b-0123456789";

    @TempDir
    Path dir;

    @Test
    void a_key_over_its_rate_gets_429_with_retry_after_while_another_key_goes_on() {
        Map<String, String> properties = Gateway.folders(dir);
        properties.put("mailgate.http.api-keys", KEY_A + "," + KEY_B);
        properties.put("mailgate.http.requests-per-minute", "3");
        try (Gateway gateway = Gateway.start(dir, properties)) {
            Http http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));
            for (int i = 0; i < 3; i++) {
                assertThat(http.get(KEY_A, "/api/v1/openapi.yaml").statusCode()).isEqualTo(200);
            }

            HttpResponse<String> limited = http.get(KEY_A, "/api/v1/openapi.yaml");
            HttpResponse<String> other = http.get(KEY_B, "/api/v1/openapi.yaml");

            assertThat(limited.statusCode()).isEqualTo(429);
            assertThat(limited.headers().firstValue("Retry-After")).hasValueSatisfying(
                    s -> assertThat(Integer.parseInt(s)).isBetween(1, 60));
            assertThat(Http.json(limited).path("detail").asText()).contains("more than 3 requests in a minute",
                    "mailgate.http.requests-per-minute");
            assertThat(limited.body()).doesNotContain(KEY_A);
            assertThat(other.statusCode()).isEqualTo(200);
        }
    }

    // an address sending wrong keys: security.WrongKeyLockoutTest (throttled, but never a request with a valid key)
}
