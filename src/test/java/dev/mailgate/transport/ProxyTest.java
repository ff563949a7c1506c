package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Arrays;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.support.Gateway;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestProxy;
import dev.mailgate.support.TestSmtpServer;

/**
 * The gateway behind corporate proxies: SMTP through an HTTP CONNECT proxy that wants credentials, Entra ID through
 * another, over real sockets; the proxies record the tunnels they opened, the credentials they were offered and the
 * bytes they relayed. The proxy password never reaches the log, and a stop still cuts a proxied send that stalls.
 */
class ProxyTest {

    private static final String PROXY_PASSWORD = "proxy-Pa55word-never-logged";
    private static final TestProxy SMTP_PROXY = TestProxy.http("mailgate", PROXY_PASSWORD);
    private static final TestProxy ENTRA_PROXY = TestProxy.http(null, null);

    @RegisterExtension
    final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.smtp.proxy", SMTP_PROXY.url())
            .with("mailgate.smtp.proxy-user", "mailgate")
            .with("mailgate.smtp.proxy-password", PROXY_PASSWORD)
            .with("mailgate.entra.proxy", ENTRA_PROXY.url())
            .with("mailgate.delivery.shutdown-timeout", "1s")
            .with("mailgate.limits.max-message-size", "40MB");

    @AfterAll
    static void closeProxies() {
        SMTP_PROXY.close();
        ENTRA_PROXY.close();
    }

    @Test
    void mail_goes_through_the_smtp_proxy_with_its_credentials_and_the_token_through_the_entra_proxy() {
        Gateway gateway = mailgate.gateway();
        int tunnelsBefore = SMTP_PROXY.tunnels().size();
        gateway.drop("hello.json", "{\"to\": \"alice@example.com\", \"subject\": \"Proxied\", \"text\": \"Hi\"}");

        JsonNode receipt = gateway.awaitSent("hello.json");

        assertThat(receipt.path("status").asText()).isEqualTo("sent");
        assertThat(mailgate.smtp().received()).singleElement()
                .satisfies(m -> assertThat(m.text()).contains("Proxied"));
        TestProxy.Tunnel smtpTunnel = SMTP_PROXY.tunnels().get(tunnelsBefore);
        assertThat(smtpTunnel.target()).isEqualTo("localhost:" + mailgate.smtp().port());
        assertThat(smtpTunnel.credentials()).isEqualTo("mailgate:" + PROXY_PASSWORD);
        assertThat(smtpTunnel.status()).isEqualTo(200);
        assertThat(ENTRA_PROXY.tunnels()).extracting(TestProxy.Tunnel::target)
                .contains(mailgate.entra().authorityHost().replace("https://", ""));
        // the whole TLS session, token and message went through the tunnel
        assertThat(SMTP_PROXY.relayed()).isGreaterThan(mailgate.smtp().received().get(0).data().length);
        assertThat(mailgate.logText()).contains("SMTP connections go through the proxy " + SMTP_PROXY.url()
                + " as mailgate", "Entra ID is reached through the proxy " + ENTRA_PROXY.url())
                .doesNotContain(PROXY_PASSWORD);
    }

    @Test
    void a_proxy_that_refuses_the_tunnel_fails_the_request_as_configuration_with_its_answer() {
        SMTP_PROXY.refuseWith(403);
        try {
            Gateway gateway = mailgate.gateway();
            gateway.drop("refused.json", "{\"to\": \"alice@example.com\", \"subject\": \"No\", \"text\": \"x\"}");

            JsonNode error = gateway.awaitFailed("refused.json");

            assertThat(error.path("category").asText()).isEqualTo("configuration");
            assertThat(error.path("reason").asText()).contains("the proxy " + SMTP_PROXY.url()
                    + " refused CONNECT localhost:" + mailgate.smtp().port() + ": HTTP/1.1 403 Refused");
            assertThat(error.path("fix").asText()).contains("let the proxy " + SMTP_PROXY.url());
            assertThat(mailgate.smtp().connections()).isZero();
        } finally {
            SMTP_PROXY.refuseWith(0);
        }
    }

    @Test
    void a_stop_cuts_a_proxied_send_that_stalls() {
        TestSmtpServer smtp = mailgate.smtp();
        smtp.stallNextData(Duration.ofSeconds(8));
        Gateway gateway = mailgate.gateway();
        byte[] big = new byte[16 * 1024 * 1024];
        Arrays.fill(big, (byte) 'x');
        gateway.attachment("big.bin", big);
        gateway.drop("big.json", "{\"to\": \"alice@example.com\", \"subject\": \"Big\", \"text\": \"x\", "
                + "\"attachments\": [{\"path\": \"big.bin\"}]}");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> smtp.dataCommands() == 1);

        long stopping = System.nanoTime();
        gateway.close();
        double stopSeconds = (System.nanoTime() - stopping) / 1e9;

        assertThat(stopSeconds).as("1 s to finish, then the proxied connection is cut").isBetween(0.9, 7.0);
        assertThat(mailgate.logText()).contains("Stopping: cut 1 send(s) still in progress");
        assertThat(gateway.queued("big.json")).exists();
    }
}
