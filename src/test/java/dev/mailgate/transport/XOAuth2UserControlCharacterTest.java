package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import jakarta.mail.Session;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import dev.mailgate.auth.AccessToken;
import dev.mailgate.auth.TokenCache;
import dev.mailgate.auth.XOAuth2;
import dev.mailgate.auth.XOAuth2Authenticator;
import dev.mailgate.compose.MimeComposer;
import dev.mailgate.compose.OutgoingMessage;
import dev.mailgate.outcome.Failure;
import dev.mailgate.policy.FailureClassifier;
import dev.mailgate.request.MailRequest;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * The second line of defence behind the validator: whatever reaches the sender, a mailbox with a control character is
 * never written into the SASL XOAUTH2 {@code user=} (where {@code \x01} ends the field and starts the attacker's
 * {@code auth=}), and the request fails as invalid, naming {@code from}, instead of as an authentication failure
 * that holds the mailbox for ever.
 */
class XOAuth2UserControlCharacterTest {

    private static final String EVIL = "\"x\u0001auth=Bearer evil\"@contoso.test";

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    private final TestEntra entra = new TestEntra(tls, null);
    private final TestSmtpServer smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());

    @AfterEach
    void stop() {
        smtp.close();
        entra.close();
    }

    @Test
    void a_mailbox_with_soh_past_the_validator_is_refused_before_connecting_not_held() throws Exception {
        // configured as the gateway configures it: STARTTLS trusting the test certificate, then XOAUTH2
        XOAuth2MailSender sender = new XOAuth2MailSender();
        sender.setProtocol("smtp");
        sender.setHost("localhost");
        sender.setPort(smtp.port());
        TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(tls.trustStore());
        SSLContext client = SSLContext.getInstance("TLS");
        client.init(null, trust.getTrustManagers(), null);
        Properties properties = new Properties();
        properties.put("mail.smtp.auth", "true");
        properties.put("mail.smtp.auth.mechanisms", "XOAUTH2");
        properties.put("mail.smtp.starttls.enable", "true");
        properties.put("mail.smtp.starttls.required", "true");
        properties.put("mail.smtp.ssl.socketFactory", client.getSocketFactory());
        sender.setSession(Session.getInstance(properties));
        sender.setAuthenticator(new XOAuth2Authenticator(new TokenCache(
                () -> new AccessToken("token-" + System.nanoTime(), Instant.now().plus(Duration.ofHours(1))),
                Duration.ofMinutes(5), Duration.ofMinutes(1), Duration.ofSeconds(30), Duration.ofSeconds(30),
                Clock.systemUTC(), Runnable::run), "sender@contoso.test"));
        MailRequest request = new MailRequest(EVIL, List.of("alice@example.com"), List.of(), List.of(), List.of(),
                "Hello", "Hi", null, null, Map.of(), List.of(), Map.of(), MailRequest.Priority.NORMAL, null, null);

        Throwable thrown;
        try (OutgoingMessage message = new MimeComposer(null).compose(request, "id-1")) {
            thrown = catchThrowable(() -> sender.send(message));
        }

        Failure failure = new FailureClassifier().classify(thrown);
        assertThat(failure.category()).as("%s", thrown).isEqualTo(Failure.Category.INVALID_REQUEST);
        assertThat(failure.problems()).anySatisfy(p -> {
            assertThat(p.field()).isEqualTo("from");
            assertThat(p.message()).contains("U+0001").doesNotContain("\u0001");
        });
        assertThat(smtp.connections()).as("no connection, so no AUTH and no hold").isZero();
        assertThat(smtp.saslResponses()).isEmpty();
    }

    @Test
    void the_sasl_encoder_refuses_control_characters_in_the_user_and_the_token() {
        assertThat(XOAuth2.response("sender@contoso.test", "t0k3n"))
                .isEqualTo("user=sender@contoso.test\u0001auth=Bearer t0k3n\u0001\u0001");
        for (char c : new char[] {'\u0000', '\u0001', '\t', '\r', '\n', '\u001B', '\u007F', '\u0085', '\u009B'}) {
            assertThatThrownBy(() -> XOAuth2.response("x" + c + "@contoso.test", "t0k3n"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(String.format("U+%04X", (int) c));
            assertThatThrownBy(() -> XOAuth2.response("sender@contoso.test", "t0" + c + "k3n"))
                    .isInstanceOf(IllegalArgumentException.class)
                    // the token is a secret: named as the token, never shown
                    .hasMessageContaining("token").hasMessageNotContaining("t0");
        }
    }
}
