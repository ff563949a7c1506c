package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.FailureClassifier;

/**
 * Lives in the transport package because {@link XOAuth2MailSender.TokenRejectedException}'s constructor is
 * package-private: only the sender raises it.
 */
class TokenRejectedClassificationTest {

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

}
