package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import dev.mailgate.outcome.Failure;
import dev.mailgate.policy.FailureClassifier;

/**
 * The failures only the sender raises (their constructors are package-private), as the classifier sees them.
 */
class SenderFailureClassificationTest {

    @Test
    void classifies_a_rejected_fresh_token_as_auth_with_mailbox_and_exchange_advice() {
        XOAuth2MailSender.TokenRejectedException rejected = new XOAuth2MailSender.TokenRejectedException(
                "sender@example.com", "smtp.office365.com", "535 5.7.3 Authentication unsuccessful");

        Failure f = new FailureClassifier().classify(rejected);

        assertThat(f.category()).isEqualTo(Failure.Category.AUTH);
        assertThat(f.reason()).contains("rejected a fresh access token for sender@example.com");
        assertThat(f.serverReply()).isEqualTo("535 5.7.3 Authentication unsuccessful");
        assertThat(f.advice()).contains("New-ServicePrincipal").contains("Add-MailboxPermission")
                .contains("Set-CASMailbox");
    }

    @Test
    void classifies_a_server_without_xoauth2_as_configuration() {
        Failure f = new FailureClassifier().classify(new XOAuth2MailSender.XOAuth2NotOfferedException(
                "relay.example.com:25", "AUTH LOGIN PLAIN", "250 HELP"));

        assertThat(f.category()).isEqualTo(Failure.Category.CONFIGURATION);
        assertThat(f.reason()).contains("relay.example.com:25 does not offer AUTH XOAUTH2 (AUTH LOGIN PLAIN)",
                "no token was sent");
        assertThat(f.advice()).contains("smtp.office365.com:587");
    }

    @Test
    void classifies_a_refused_ehlo_after_starttls_by_its_reply() {
        Failure f = new FailureClassifier().classify(new XOAuth2MailSender.XOAuth2NotOfferedException(
                "smtp.office365.com:587", "no AUTH", "421 4.7.66 TLS 1.0 and 1.1 are not supported."));

        assertThat(f.category()).isEqualTo(Failure.Category.CONFIGURATION);
        assertThat(f.serverReply()).startsWith("421 4.7.66");
        assertThat(f.advice()).contains("proxy");
    }
}
