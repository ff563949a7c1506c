package dev.mailgate.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.file.NoSuchFileException;
import java.util.List;

import javax.net.ssl.SSLHandshakeException;

import jakarta.mail.Address;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.MessagingException;
import jakarta.mail.SendFailedException;
import jakarta.mail.internet.InternetAddress;

import org.eclipse.angus.mail.smtp.SMTPAddressFailedException;
import org.eclipse.angus.mail.smtp.SMTPSendFailedException;
import org.junit.jupiter.api.Test;

import dev.mailgate.auth.TokenException;
import dev.mailgate.config.ConfigurationException;
import dev.mailgate.outcome.Failure.Category;
import dev.mailgate.outcome.Failure;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.OpenersExhausted;
import dev.mailgate.request.Problem;

class FailureClassifierTest {

    private final FailureClassifier classifier = new FailureClassifier();

    private static SMTPSendFailedException dataRefused(int code, String reply) {
        return new SMTPSendFailedException("DATA", code, reply, null, null, null, null);
    }

    // --- Mailgate's own failures ------------------------------------------------------------------------

    @Test
    void classifies_an_invalid_request_with_its_problems() {
        List<Problem> problems = List.of(new Problem("to[0]", "'bob@' is not an email address"),
                new Problem("subject", "contains a line break"));

        Failure f = classifier.classify(new InvalidRequestException(problems));

        assertThat(f.category()).isEqualTo(Category.INVALID_REQUEST);
        assertThat(f.problems()).isEqualTo(problems);
        assertThat(f.reason()).contains("to[0]: 'bob@' is not an email address");
        assertThat(f.retryable()).isFalse();
    }

    @Test
    void finds_an_invalid_request_wrapped_in_another_exception() {
        Failure f = classifier.classify(new RuntimeException(new InvalidRequestException("data", "needs 'name'")));

        assertThat(f.category()).isEqualTo(Category.INVALID_REQUEST);
        assertThat(f.problems()).extracting(Problem::field).containsExactly("data");
    }

    @Test
    void a_file_not_opened_because_openers_are_held_by_fifos_is_temporary_not_the_requests_fault() {
        Failure f = classifier.classify(new RuntimeException(new OpenersExhausted("attachments[0].path 'x' was not "
                + "opened: 4 earlier opens in its folder of files replaced by FIFOs never returned")));

        assertThat(f.category()).isEqualTo(Failure.Category.TRANSIENT);
        assertThat(f.reason()).contains("attachments[0].path 'x' was not opened");
        assertThat(f.advice()).contains("FIFOs", "restart Mailgate", "tried again");
    }

    @Test
    void classifies_a_configuration_error() {
        Failure f = classifier.classify(new ConfigurationException("mailgate.smtp.port='abc' is not a whole number"));

        assertThat(f.category()).isEqualTo(Category.CONFIGURATION);
        assertThat(f.reason()).contains("mailgate.smtp.port");
    }

    @Test
    void classifies_an_unreachable_token_endpoint_as_transient() {
        Failure f = classifier.classify(new TokenException(TokenException.Kind.UNREACHABLE,
                "cannot reach Entra ID at https://login.microsoftonline.com: the connection was refused"));

        assertThat(f.category()).isEqualTo(Category.TRANSIENT);
        assertThat(f.reason()).contains("no access token").contains("the connection was refused");
        assertThat(f.retryable()).isTrue();
    }

    @Test
    void classifies_a_rejected_token_request_as_auth() {
        Failure f = classifier.classify(new TokenException(TokenException.Kind.REJECTED,
                "Entra ID refused the token request (AADSTS7000215): the client secret is wrong"));

        assertThat(f.category()).isEqualTo(Category.AUTH);
        assertThat(f.reason()).contains("AADSTS7000215");
        assertThat(f.retryable()).isFalse();
    }

    @Test
    void finds_a_token_exception_behind_a_messaging_exception() {
        MessagingException wrapped = new MessagingException("no token",
                new TokenException(TokenException.Kind.REJECTED, "tenant 'x' does not exist"));

        assertThat(classifier.classify(wrapped).category()).isEqualTo(Category.AUTH);
    }

    // --- SMTP replies -----------------------------------------------------------------------------------

    @Test
    void classifies_451_server_busy_as_transient_with_the_server_reply() {
        Failure f = classifier.classify(dataRefused(451, "451 4.7.500 Server busy. Please try again later"));

        assertThat(f.category()).isEqualTo(Category.TRANSIENT);
        assertThat(f.serverReply()).isEqualTo("451 4.7.500 Server busy. Please try again later");
    }

    @Test
    void classifies_a_connection_that_ended_before_the_reply_as_transient_not_permanent() {
        Failure f = classifier.classify(dataRefused(-1, "[EOF]"));

        assertThat(f.category()).isEqualTo(Category.TRANSIENT);
        assertThat(f.reason()).contains("ended before it replied");
    }

    @Test
    void classifies_421_4_7_66_as_configuration_because_retrying_cannot_change_the_tls_version() {
        Failure f = classifier.classify(dataRefused(421,
                "421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client"));

        assertThat(f.category()).isEqualTo(Category.CONFIGURATION);
        assertThat(f.serverReply()).startsWith("421 4.7.66");
        assertThat(f.advice()).contains("proxy");
    }

    @Test
    void classifies_432_sender_thread_limit_as_transient() {
        Failure f = classifier.classify(dataRefused(432, "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit "
                + "exceeded [Hostname=AM0PR01MB1234.eurprd01.prod.exchangelabs.com]"));

        assertThat(f.category()).isEqualTo(Category.TRANSIENT);
        assertThat(f.serverReply()).contains("sender thread limit exceeded");
    }

    @Test
    void joins_a_multi_line_reply_into_one_line() {
        Failure f = classifier.classify(dataRefused(451, "451 4.7.500 Server busy.\r\n  Please try again later\n"));

        assertThat(f.serverReply()).isEqualTo("451 4.7.500 Server busy. Please try again later");
    }

    @Test
    void classifies_submission_quota_exceeded_as_quota() {
        Failure f = classifier.classify(dataRefused(554, "554 5.2.0 STOREDRV.Submission.Exception:"
                + "SubmissionQuotaExceededException; Failed to process message due to a permanent exception"));

        assertThat(f.category()).isEqualTo(Category.QUOTA);
        assertThat(f.reason()).contains("sending quota");
        assertThat(f.retryable()).isTrue();
    }

    @Test
    void classifies_send_as_denied_as_permanent_with_mailbox_permission_advice() {
        Failure f = classifier.classify(dataRefused(554, "554 5.2.0 STOREDRV.Submission.Exception:"
                + "SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent "
                + "exception with message Cannot submit message."));

        assertThat(f.category()).isEqualTo(Category.PERMANENT);
        assertThat(f.reason()).contains("refused to send as the message's from address");
        assertThat(f.advice()).contains("Add-RecipientPermission -Identity <from address> -AccessRights SendAs", "Add-MailboxPermission", "FullAccess");
    }

    @Test
    void classifies_an_unknown_recipient_reported_by_rcpt_as_permanent() throws Exception {
        SMTPAddressFailedException rcpt = new SMTPAddressFailedException(new InternetAddress("nobody@example.com"),
                "RCPT TO:<nobody@example.com>", 550,
                "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found");
        SendFailedException send = new SendFailedException("Invalid Addresses", rcpt, new Address[0],
                new Address[0], new Address[] {new InternetAddress("nobody@example.com")});

        Failure f = classifier.classify(send);

        assertThat(f.category()).isEqualTo(Category.PERMANENT);
        assertThat(f.reason()).contains("recipient address was refused");
        assertThat(f.serverReply()).contains("550 5.1.1");
    }

    @Test
    void classifies_message_too_large_as_permanent() {
        Failure f = classifier.classify(dataRefused(552,
                "552 5.3.4 Message size exceeds fixed maximum message size"));

        assertThat(f.category()).isEqualTo(Category.PERMANENT);
        assertThat(f.reason()).contains("too large");
        assertThat(f.advice()).contains("35 MB");
    }

    @Test
    void classifies_535_authentication_unsuccessful_as_auth_with_exchange_advice() {
        Failure f = classifier.classify(new SMTPSendFailedException("AUTH", 535,
                "535 5.7.3 Authentication unsuccessful [AM0PR01CA0001.eurprd01.prod.exchangelabs.com]", null, null,
                null, null));

        assertThat(f.category()).isEqualTo(Category.AUTH);
        assertThat(f.advice()).contains("SMTP.SendAsApp").contains("New-ServicePrincipal")
                .contains("Add-MailboxPermission").contains("Set-CASMailbox");
    }

    @Test
    void classifies_smtp_auth_disabled_5_7_139_as_auth() {
        Failure f = classifier.classify(dataRefused(535,
                "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox."));

        assertThat(f.category()).isEqualTo(Category.AUTH);
        assertThat(f.advice()).contains("Set-CASMailbox");
    }

    @Test
    void classifies_an_unrecognised_5xx_reply_as_permanent() {
        Failure f = classifier.classify(dataRefused(554, "554 5.6.0 Corrupt message content"));

        assertThat(f.category()).isEqualTo(Category.PERMANENT);
        assertThat(f.serverReply()).isEqualTo("554 5.6.0 Corrupt message content");
    }

    // --- connection and TLS -----------------------------------------------------------------------------

    @Test
    void classifies_a_server_without_starttls_as_configuration() {
        Failure f = classifier.classify(new MessagingException(
                "STARTTLS is required but host does not support STARTTLS"));

        assertThat(f.category()).isEqualTo(Category.CONFIGURATION);
        assertThat(f.reason()).contains("does not offer STARTTLS");
        assertThat(f.advice()).contains("mailgate.smtp.host");
    }

    @Test
    void classifies_an_untrusted_certificate_as_configuration() {
        Failure f = classifier.classify(new MessagingException("Could not convert socket to TLS",
                new SSLHandshakeException("PKIX path building failed")));

        assertThat(f.category()).isEqualTo(Category.CONFIGURATION);
        assertThat(f.reason()).contains("TLS with the SMTP server failed").contains("PKIX path building failed");
        assertThat(f.advice()).contains("mailgate.tls.truststore");
    }

    @Test
    void classifies_a_certificate_for_another_host_as_configuration() {
        Failure f = classifier.classify(new MessagingException("Could not connect to SMTP host: x, port: 587",
                new IOException("Can't verify identity of server: smtp.example.net")));

        assertThat(f.category()).isEqualTo(Category.CONFIGURATION);
        assertThat(f.reason()).contains("does not match the host name", "smtp.example.net",
                "before any token was sent");
    }

    @Test
    void classifies_a_refused_connection_as_transient() {
        Failure f = classifier.classify(new MessagingException("Couldn't connect to host, port: localhost, 587",
                new ConnectException("Connection refused")));

        assertThat(f.category()).isEqualTo(Category.TRANSIENT);
        assertThat(f.reason()).contains("cannot connect to the SMTP server (Connection refused)");
    }

    @Test
    void classifies_a_timeout_as_transient() {
        Failure f = classifier.classify(new MessagingException("Exception reading response",
                new SocketTimeoutException("Read timed out")));

        assertThat(f.category()).isEqualTo(Category.TRANSIENT);
        assertThat(f.reason()).contains("did not answer in time");
    }

    @Test
    void classifies_an_unknown_host_as_transient_naming_dns() {
        Failure f = classifier.classify(new MessagingException("Unknown SMTP host: smtp.office365.con",
                new UnknownHostException("smtp.office365.con")));

        assertThat(f.category()).isEqualTo(Category.TRANSIENT);
        assertThat(f.reason()).contains("does not resolve").contains("smtp.office365.con");
    }

    @Test
    void classifies_any_other_messaging_exception_as_transient() {
        Failure f = classifier.classify(new MessagingException("[EOF]"));

        assertThat(f.category()).isEqualTo(Category.TRANSIENT);
    }

    @Test
    void classifies_a_vanished_attachment_file_as_permanent() {
        // how Angus Mail reports a FileDataSource whose file is gone while the message is written
        Failure f = classifier.classify(new MessagingException("IOException while sending message",
                new java.io.FileNotFoundException("/outbox/attachments/a.pdf (No such file or directory)")));

        assertThat(f.category()).isEqualTo(Category.PERMANENT);
        assertThat(f.reason()).contains("disappeared", "a.pdf");
    }

    @Test
    void classifies_an_unexpected_error_as_permanent_naming_its_type() {
        Failure f = classifier.classify(new IllegalStateException("boom"));

        assertThat(f.category()).isEqualTo(Category.PERMANENT);
        assertThat(f.reason()).contains("IllegalStateException: boom");
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
        "421|421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.|configuration",
        "432|432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded|transient",
        "451|451 4.7.500 Server busy. Please try again later from [40.107.0.0]. (S77719)|transient",
        "535|535 5.7.3 Authentication unsuccessful [AM0PR02CA0001.eurprd02.prod.outlook.com]|auth",
        "535|535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.|auth",
        "550|550 5.1.1 RESOLVER.ADR.RecipNotFound; not found|permanent",
        "530|530 5.7.57 Client not authenticated to send mail. [AM0PR02CA0001]|auth",
        "550|550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.|auth",
        "552|552 5.3.4 Message size exceeds fixed maximum message size|permanent",
        "554|554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message|quota",
        "554|554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied|permanent"
    })
    void classifies_exchange_online_replies(int code, String reply, String category) {
        Failure f = classifier.smtpReply(code, reply);

        assertThat(f.category().label()).isEqualTo(category);
        assertThat(f.serverReply()).isEqualTo(reply);
        assertThat(f.advice()).isNotBlank();
    }

    /**
     * Every reply of Microsoft's lists that an SMTP AUTH submission client can get, at the stage Exchange gives it:
     * its category (what Mailgate does) and a word of the fix. README "Exchange Online's replies" is this table.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "{0} {1}: {3}")
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
        "AUTH|535|535 5.7.3 Authentication unsuccessful [AM0PR02CA0001]|auth|Application SMTP.SendAsApp",
        "AUTH|535|535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.|auth|Set-CASMailbox",
        "AUTH|550|550 5.7.30 Basic authentication is not supported for Client Submission.|auth|Add-MailboxPermission",
        "MAIL_FROM|530|530 5.7.57 Client not authenticated to send mail. [AM0PR02CA0001]|auth|Set-CASMailbox",
        "MAIL_FROM|550|550 5.1.8 Access denied, bad outbound sender|sender-blocked|Restricted entities",
        "DATA|550|550 5.7.501 Access denied, spam abuse detected.|sender-blocked|Restricted entities",
        "MAIL_FROM|550|550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.|auth|support request",
        "MAIL_FROM|550|550 5.7.705 Access denied, tenant has exceeded threshold.|auth|support request",
        "DATA|550|550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains.|permanent|accepted domains",
        "DATA|550|550 5.7.703 Your message can't be delivered because messages to x@y, are blocked by your organization using Tenant Allow Block List.|permanent|Tenant Allow/Block List",
        "DATA|554|554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded|mailbox-full|Sent Items",
        "DATA|554|554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionQuotaExceeded|mailbox-full|retention policy",
        "RCPT_TO|552|552 5.2.2 STOREDRV.Deliver; mailbox full|permanent|recipient",
        "DATA|554|554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException|quota|24-hour",
        "DATA|550|550 5.1.90 Your message can't be sent because you've reached your daily limit for message recipients|quota|24-hour",
        "DATA|550|550 5.2.251 Sender throttled due to continuous mailbox full errors.|quota|Sent Items",
        "DATA|550|550 5.2.253 Sender throttled due to continuous invalid license errors.|quota|licence",
        "DATA|554|554 5.2.252 SendAsDenied; mailer@contoso.com not allowed to send as noreply@contoso.com; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied|permanent|Add-RecipientPermission",
        "DATA|554|554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied|permanent|Add-RecipientPermission",
        "DATA|550|550 5.7.60 SMTP; Client does not have permissions to send as this sender|permanent|Add-RecipientPermission",
        "AUTH|432|432 4.3.2 Concurrent connections limit exceeded.|transient|connections-per-mailbox",
        "DATA|432|432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded|transient|connections-per-mailbox",
        "DATA|451|451 4.7.500 Server busy. Please try again later from [40.107.0.0]. (S77719)|transient|temporary",
        "DATA|421|421 4.3.2 Service not available, closing transmission channel|transient|temporary",
        "AUTH|421|421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.|configuration|proxy",
        "RCPT_TO|550|550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup|permanent|recipient",
        "RCPT_TO|550|550 5.4.1 Recipient address rejected: Access denied.|permanent|recipient",
        "DATA|552|552 5.3.4 Message size exceeds fixed maximum message size|permanent|smaller",
        "DATA|550|550 5.7.512 Access denied, message must be RFC 5322 section 3.6.2 compliant|permanent|from",
    })
    void every_submission_reply_of_microsofts_lists_has_a_category_and_a_fix_at_its_stage(
            FailureClassifier.Stage stage, int code, String reply, String category, String fix) {
        Failure f = classifier.smtpReply(stage, code, reply);

        assertThat(f.category().label()).isEqualTo(category);
        assertThat(f.advice()).contains(fix);
        assertThat(f.serverReply()).isEqualTo(reply);
    }

    @Test
    void numbers_in_a_replys_text_are_not_read_as_its_code() {
        // Exchange quotes the client's address in some replies: a deferral stays a deferral
        Failure busy = classifier.smtpReply(FailureClassifier.Stage.DATA, 451,
                "451 4.7.500 Server busy. Please try again later from [85.1.8.4]. (S77719)");
        Failure busyAgain = classifier.smtpReply(FailureClassifier.Stage.DATA, 451,
                "451 4.7.500 Server busy. Please try again later from [5.1.90.7]. (S77719)");
        Failure refused = classifier.smtpReply(FailureClassifier.Stage.DATA, 550,
                "550 5.7.1 Delivery not authorized from [10.5.1.80]");

        assertThat(busy.category()).isEqualTo(Category.TRANSIENT);
        assertThat(busyAgain.category()).isEqualTo(Category.TRANSIENT);
        assertThat(refused.category()).isEqualTo(Category.PERMANENT);
    }

    @Test
    void the_stage_of_a_refusal_comes_from_the_command_angus_mail_sent() throws Exception {
        SMTPAddressFailedException recipient = new SMTPAddressFailedException(new InternetAddress("bob@example.com"),
                "RCPT TO:<bob@example.com>", 552, "552 5.2.2 STOREDRV.Deliver; mailbox full");
        SendFailedException invalid = new SendFailedException("Invalid Addresses", recipient);

        assertThat(classifier.classify(invalid).category()).isEqualTo(Category.PERMANENT);
        assertThat(classifier.classify(dataRefused(554, "554 5.2.2 mailbox full; STOREDRV.Submission.Exception:"
                + "QuotaExceededException.MapiExceptionShutoffQuotaExceeded")).category())
                .isEqualTo(Category.MAILBOX_FULL);
        assertThat(classifier.classify(new SMTPSendFailedException(".", 554, "554 5.2.2 mailbox full; STOREDRV."
                + "Submission.Exception:QuotaExceededException", null, null, null, null)).category())
                .isEqualTo(Category.MAILBOX_FULL);
    }

    @Test
    void a_5_7_139_names_the_smtp_auth_switch_to_turn_on() {
        Failure mailbox = classifier.smtpReply(535, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
                + "is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.");
        Failure tenant = classifier.smtpReply(535, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication "
                + "is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.");
        Failure defaults = classifier.smtpReply(535, "535 5.7.139 Authentication unsuccessful, user is locked by your "
                + "organization's security defaults policy. Contact your administrator.");
        Failure unspecific = classifier.smtpReply(535, "535 5.7.139 Authentication unsuccessful, the request did not "
                + "meet the criteria to be authenticated successfully. Contact your administrator.");

        assertThat(mailbox.advice()).contains("Set-CASMailbox -Identity <mailbox> -SmtpClientAuthenticationDisabled $false")
                .doesNotContain("Set-TransportConfig");
        assertThat(tenant.advice()).contains("Set-TransportConfig -SmtpClientAuthenticationDisabled $false",
                "Set-CASMailbox");
        assertThat(defaults.advice()).contains("security defaults", "Conditional Access").doesNotContain("Set-CASMailbox");
        assertThat(unspecific.advice()).contains("Set-CASMailbox", "Set-TransportConfig", "security defaults");
    }
}
