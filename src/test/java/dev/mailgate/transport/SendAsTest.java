package dev.mailgate.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;

import jakarta.mail.internet.InternetAddress;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.support.Gateway;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestSmtpServer;

/**
 * Sending as a shared mailbox, a group or an alias that cannot authenticate itself: {@code mailgate.authenticate-as}
 * names the licensed mailbox that authenticates for it (the XOAUTH2 {@code user=}); the {@code From} header and the
 * envelope stay the request's; pacing and the daily count are the authenticating mailbox's; Exchange's
 * {@code SendAsDenied} names the exact {@code Add-RecipientPermission}.
 */
class SendAsTest {

    private static final String MAILER = "mailer@contoso.test";
    private static final String NOREPLY = "noreply@contoso.test";
    private static final String INVOICES = "invoices@contoso.test";

    @RegisterExtension
    final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.authenticate-as", NOREPLY + "=" + MAILER + ", " + INVOICES + "=" + MAILER);

    @Test
    void a_request_from_a_shared_mailbox_authenticates_as_the_mailbox_with_send_as_and_keeps_its_from() throws Exception {
        TestSmtpServer smtp = mailgate.smtp();
        smtp.enforceSendAs();
        smtp.grantSendAs(NOREPLY, MAILER);
        Gateway gateway = mailgate.gateway();
        Instant before = Instant.now();
        gateway.drop("notice.json", "{\"from\": \"No Reply <" + NOREPLY + ">\", \"to\": \"alice@example.com\", "
                + "\"subject\": \"Notice\", \"text\": \"Hello\"}");

        JsonNode receipt = gateway.awaitSent("notice.json");

        assertThat(receipt.path("mailbox").asText()).isEqualTo(MAILER);
        TestSmtpServer.Received mail = smtp.received().get(0);
        assertThat(mail.mailbox()).isEqualTo(MAILER);
        assertThat(mail.mailFrom()).isEqualTo(NOREPLY);
        InternetAddress from = (InternetAddress) mail.message().getFrom()[0];
        assertThat(from.getAddress()).isEqualTo(NOREPLY);
        assertThat(from.getPersonal()).isEqualTo("No Reply");
        // the exact SASL string: user= is the authenticating mailbox, never the shared one
        // (compared without the token, so that a failure does not print it)
        String sasl = smtp.saslResponses().get(0);
        assertThat(sasl.substring(0, sasl.indexOf("Bearer ") + 7)).isEqualTo("user=" + MAILER + "\u0001auth=Bearer ");
        assertThat(sasl.endsWith("\u0001\u0001")).isTrue();
        // the daily recipient count is the authenticating mailbox's
        assertThat(gateway.journal().recipientsSince(MAILER, before.minus(Duration.ofMinutes(1)))).isEqualTo(1);
        assertThat(gateway.journal().recipientsSince(NOREPLY, before.minus(Duration.ofMinutes(1)))).isZero();
    }

    @Test
    void send_as_denied_fails_the_message_naming_the_add_recipientpermission_to_run() {
        TestSmtpServer smtp = mailgate.smtp();
        smtp.enforceSendAs();
        Gateway gateway = mailgate.gateway();
        gateway.drop("invoice.json", "{\"from\": \"" + INVOICES + "\", \"to\": \"alice@example.com\", "
                + "\"subject\": \"Invoice\", \"text\": \"Attached\"}");

        JsonNode error = gateway.awaitFailed("invoice.json");

        assertThat(error.path("category").asText()).isEqualTo("permanent");
        assertThat(error.path("serverReply").asText()).startsWith("554 5.2.252 SendAsDenied; " + MAILER);
        assertThat(error.path("fix").asText()).contains("Add-RecipientPermission -Identity " + INVOICES
                + " -AccessRights SendAs -Trustee " + MAILER);
        assertThat(smtp.received()).isEmpty();
        // one address's permission: the authenticating mailbox is not held for it
        gateway.drop("own.json", "{\"from\": \"" + MAILER + "\", \"to\": \"alice@example.com\", "
                + "\"subject\": \"Own\", \"text\": \"Mine\"}");
        assertThat(gateway.awaitSent("own.json").path("mailbox").asText()).isEqualTo(MAILER);
    }

    @Test
    void the_sender_allow_list_still_applies_to_from_whoever_authenticates() {
        Gateway gateway = mailgate.gateway();
        gateway.drop("spoof.json", "{\"from\": \"ceo@elsewhere.test\", \"to\": \"alice@example.com\", "
                + "\"subject\": \"Pay\", \"text\": \"Now\"}");

        JsonNode error = gateway.awaitFailed("spoof.json");

        assertThat(error.path("category").asText()).isEqualTo("invalid-request");
        assertThat(error.path("errors").get(0).path("field").asText()).isEqualTo("from");
        assertThat(error.path("errors").get(0).path("message").asText()).contains("allowed-senders");
        assertThat(mailgate.smtp().saslResponses()).isEmpty();
    }
}
