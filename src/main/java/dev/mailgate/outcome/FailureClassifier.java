package dev.mailgate.outcome;

import static dev.mailgate.Text.oneLine;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.NoSuchFileException;
import java.security.cert.CertificateException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import javax.net.ssl.SSLException;

import jakarta.mail.MessagingException;

import org.eclipse.angus.mail.smtp.SMTPAddressFailedException;
import org.eclipse.angus.mail.smtp.SMTPSendFailedException;
import org.eclipse.angus.mail.smtp.SMTPSenderFailedException;

import dev.mailgate.auth.TokenException;
import dev.mailgate.config.ConfigurationException;
import dev.mailgate.outcome.Failure.Category;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.OpenersExhausted;
import dev.mailgate.transport.XOAuth2MailSender;

/**
 * The one place that decides what a failed send means: invalid request, transient, quota, auth,
 * configuration or permanent, with a reason and the advice an operator needs. Every channel's error
 * handling asks it.
 */
public final class FailureClassifier {

    static final String EXCHANGE_AUTH_ADVICE = exchangeAccessAdvice("<client id>", "<mailbox>");

    /**
     * How to let app {@code app} send as {@code mailbox}, in both of Exchange Online's permission models: RBAC for
     * Applications first (Microsoft's current guidance, which adds no permission in Entra ID and issues tokens
     * without a {@code roles} claim), then the classic Entra permission {@code SMTP.SendAsApp} with mailbox
     * permissions. Either way SMTP AUTH has to be on for the mailbox.
     */
    public static String exchangeAccessAdvice(String app, String mailbox) {
        return "Exchange Online does not let the app send as " + mailbox + ". In Exchange Online PowerShell "
                + "(Connect-ExchangeOnline), either with RBAC for Applications (no API permission in Entra ID): "
                + "New-ServicePrincipal -AppId " + app + " -ObjectId <Object ID from Entra admin center > Enterprise "
                + "applications>; New-ManagementScope -Name 'Mailgate senders' -RecipientRestrictionFilter "
                + "\"PrimarySmtpAddress -eq '" + mailbox + "'\"; New-ManagementRoleAssignment -App " + app
                + " -Role 'Application SMTP.SendAsApp' -CustomResourceScope 'Mailgate senders'; check it with "
                + "Test-ServicePrincipalAuthorization -Identity " + app + " -Resource " + mailbox + ". Or the classic "
                + "way: the application permission Office 365 Exchange Online > SMTP.SendAsApp with admin consent, "
                + "New-ServicePrincipal as above, and Add-MailboxPermission -Identity " + mailbox + " -User <that "
                + "Object ID> -AccessRights FullAccess. Either way SMTP AUTH must be on for the mailbox: "
                + "Set-CASMailbox -Identity " + mailbox + " -SmtpClientAuthenticationDisabled $false, and the token "
                + "must come from the mailbox's tenant. New grants can take up to two hours to apply";
    }

    /** What to check for an authentication refusal; a 5.7.139 says exactly which switch is off. */
    static String authAdvice(String reply) {
        String text = reply == null ? "" : reply.toLowerCase(Locale.ROOT);
        if (text.contains("5.7.139")) {
            if (text.contains("disabled for the mailbox")) {
                return "SMTP AUTH is turned off for this mailbox: Set-CASMailbox -Identity <mailbox> "
                        + "-SmtpClientAuthenticationDisabled $false";
            }
            if (text.contains("disabled for the tenant")) {
                return "SMTP AUTH is turned off for the whole tenant: enable it for the sending mailbox only with "
                        + "Set-CASMailbox -Identity <mailbox> -SmtpClientAuthenticationDisabled $false (the mailbox "
                        + "setting wins), or for everyone with Set-TransportConfig -SmtpClientAuthenticationDisabled $false";
            }
            if (text.contains("security defaults")) {
                return "the tenant's security defaults block SMTP AUTH: turn security defaults off (Entra admin "
                        + "center > Overview > Properties > Manage security defaults) and protect sign-ins with "
                        + "Conditional Access instead";
            }
            return "SMTP AUTH is disabled for the mailbox or the whole tenant: Set-CASMailbox -Identity <mailbox> "
                    + "-SmtpClientAuthenticationDisabled $false (the mailbox setting wins over the tenant's "
                    + "Set-TransportConfig -SmtpClientAuthenticationDisabled); tenants with security defaults on have "
                    + "SMTP AUTH off";
        }
        return EXCHANGE_AUTH_ADVICE;
    }

    public Failure classify(Throwable error) {
        List<Throwable> chain = chain(error);
        for (Throwable e : chain) {
            if (e instanceof KnownFailure known) {
                return known.failure();
            }
            if (e instanceof OpenersExhausted exhausted) {
                return new Failure(Category.TRANSIENT, exhausted.getMessage(), "someone who may write to an "
                        + "attachments folder swaps files for FIFOs: stop that, then restart Mailgate to free the "
                        + "threads; the request is tried again");
            }
            if (e instanceof InvalidRequestException invalid) {
                return new Failure(Category.INVALID_REQUEST, "the request is invalid: " + invalid.getMessage(),
                        "correct the fields listed and submit the request again", null, invalid.problems());
            }
            if (e instanceof JdbcJournal.JournalException journal) {
                return new Failure(Category.TRANSIENT, oneLine(journal.getMessage()),
                        "check the journal database (mailgate.journal.url)");
            }
            if (e instanceof ConfigurationException config) {
                return new Failure(Category.CONFIGURATION, config.getMessage(), "fix the setting named and restart");
            }
            if (e instanceof TokenException token) {
                return token.kind() == TokenException.Kind.UNREACHABLE
                        ? new Failure(Category.TRANSIENT, "no access token: " + token.getMessage(),
                                "temporary; if it persists, check outbound HTTPS to Entra ID (DNS, firewall, proxy)")
                        : new Failure(Category.AUTH, "no access token: " + token.getMessage(),
                                "fix the Entra ID app registration or credential as described");
            }
            if (e instanceof XOAuth2MailSender.SendCutShortException) {
                return new Failure(Category.TRANSIENT, oneLine(e.getMessage()), "nothing to do: the request stays "
                        + "pending and is sent when Mailgate runs again");
            }
            if (e instanceof XOAuth2MailSender.AuthLineRefusedException refused) {
                return new Failure(Category.CONFIGURATION, oneLine(e.getMessage()), "set mailgate.smtp.xoauth2-form "
                        + "to auto (the default: it falls back to the two-line form with such a server) or two-line",
                        refused.serverReply(), List.of());
            }
            if (e instanceof XOAuth2MailSender.TokenRejectedException rejected) {
                return new Failure(Category.AUTH, "Exchange Online rejected a fresh access token for "
                        + rejected.mailbox(), authAdvice(rejected.serverReply()), rejected.serverReply(), List.of());
            }
            if (e instanceof SMTPSendFailedException || e instanceof SMTPAddressFailedException
                    || e instanceof SMTPSenderFailedException) {
                return smtpReply(returnCode(e), oneLine(e.getMessage()));
            }
        }
        for (Throwable e : chain) {
            if (e instanceof XOAuth2MailSender.XOAuth2NotOfferedException notOffered) {
                String reply = notOffered.serverReply();
                if (reply != null && reply.matches("[45]\\d\\d .*")) {
                    // EHLO was refused: the reply (e.g. 421 4.7.66) is the reason
                    Failure refused = smtpReply(Integer.parseInt(reply.substring(0, 3)), reply);
                    return new Failure(refused.category(), refused.reason() + "; no token was sent", refused.advice(),
                            reply, List.of());
                }
                return new Failure(Category.CONFIGURATION, oneLine(e.getMessage()) + "; no token was sent",
                        "Mailgate only authenticates with OAuth2 (XOAUTH2): point mailgate.smtp.host/port at an "
                                + "Exchange Online submission endpoint (smtp.office365.com:587)");
            }
            String message = String.valueOf(e.getMessage());
            if (message.contains("STARTTLS is required")) {
                return new Failure(Category.CONFIGURATION, "the SMTP server does not offer STARTTLS; Mailgate never "
                        + "sends an access token over a cleartext connection",
                        "point mailgate.smtp.host/port at a submission server that supports STARTTLS "
                                + "(smtp.office365.com:587)");
            }
            if (message.contains("Can't verify identity of server") || message.contains("subject alternative")
                    || message.contains("No name matching")) {
                return new Failure(Category.CONFIGURATION, "the SMTP server's certificate does not match the host "
                        + "name Mailgate connected to (" + oneLine(message) + "); the connection was refused before "
                        + "any token was sent",
                        "use the host name the certificate was issued for (smtp.office365.com) in mailgate.smtp.host");
            }
            if (e instanceof CertificateException || e instanceof SSLException && isCertificateProblem(message)) {
                return new Failure(Category.CONFIGURATION, "TLS with the SMTP server failed (" + oneLine(message)
                        + "); its certificate is not trusted, so no token was sent",
                        "check that mailgate.smtp.host is the real server and that no proxy intercepts TLS; for an "
                                + "internal relay add its CA to mailgate.tls.truststore");
            }
        }
        for (Throwable e : chain) {
            if (e instanceof UnknownHostException) {
                return new Failure(Category.TRANSIENT, "the SMTP host name does not resolve (" + e.getMessage() + ")",
                        "check mailgate.smtp.host and DNS");
            }
            if (e instanceof ConnectException || e instanceof NoRouteToHostException) {
                return new Failure(Category.TRANSIENT, "cannot connect to the SMTP server (" + oneLine(e.getMessage())
                        + ")", "check mailgate.smtp.host/port and that outbound port 587 is open");
            }
            if (e instanceof InterruptedIOException) {
                return new Failure(Category.TRANSIENT, "the SMTP server did not answer in time",
                        "temporary; if it persists, check the network and mailgate.smtp.read-timeout / "
                                + "mailgate.smtp.write-timeout");
            }
            if (e instanceof SSLException) {
                return new Failure(Category.TRANSIENT, "the TLS connection to the SMTP server broke ("
                        + oneLine(e.getMessage()) + ")", "temporary; if it persists, check the network path to the "
                                + "server");
            }
            if (e instanceof FileNotFoundException || e instanceof NoSuchFileException) {
                return new Failure(Category.PERMANENT, "a file of the request disappeared before it was sent ("
                        + oneLine(e.getMessage()) + ")", "keep attachment files in place until the request is "
                                + "sent, then submit it again");
            }
            if (e instanceof SocketException) {
                return new Failure(Category.TRANSIENT, "the connection to the SMTP server broke ("
                        + oneLine(e.getMessage()) + ")", "temporary; if it persists, check the network path to the server");
            }
        }
        if (error instanceof MessagingException) {
            return new Failure(Category.TRANSIENT, "sending failed: " + oneLine(error.getMessage()),
                    "temporary as far as Mailgate can tell; read the reason");
        }
        if (error instanceof IOException) {
            return new Failure(Category.PERMANENT, "a file of the request could not be read ("
                    + oneLine(error.getMessage()) + ")", "check that attachment files stay in place until sent");
        }
        return new Failure(Category.PERMANENT, "unexpected error: " + error.getClass().getSimpleName() + ": "
                + oneLine(error.getMessage()), "report this to the Mailgate maintainers with the log lines around it");
    }

    /** What an SMTP reply code and text (Exchange Online's wording) mean for this message. */
    public Failure smtpReply(int code, String reply) {
        String text = reply.toUpperCase(Locale.ROOT);
        if (code < 0) {
            // Angus Mail's code for "[EOF]": the connection ended before the server replied
            return new Failure(Category.TRANSIENT, "the connection to the SMTP server ended before it replied",
                    "temporary: Mailgate tries again; if it persists, check the network path to the server", reply,
                    List.of());
        }
        if (text.contains("SUBMISSIONQUOTAEXCEEDED") || text.contains("5.2.0") && text.contains("QUOTA")) {
            return new Failure(Category.QUOTA, "the mailbox has used up its sending quota (10,000 recipients per "
                    + "24 hours in Exchange Online)", "wait for the 24-hour window to free up, or spread sending over "
                    + "several mailboxes", reply, List.of());
        }
        if (code == 535 || code == 530 || text.contains("5.7.57") || text.contains("5.7.139")) {
            return new Failure(Category.AUTH, "the SMTP server refused authentication", authAdvice(reply), reply,
                    List.of());
        }
        if (text.contains("5.7.708")) {
            // not about this message: Exchange Online takes no mail from the tenant at all
            return new Failure(Category.AUTH, "Exchange Online does not accept mail from this tenant",
                    "new tenants and tenants with a low sending reputation are blocked from sending until Microsoft "
                            + "lifts it: open a support request in the Microsoft 365 admin center", reply, List.of());
        }
        if (text.contains("4.7.66")) {
            return new Failure(Category.CONFIGURATION, "Exchange Online refused the TLS version of the connection",
                    "Mailgate uses TLS 1.2 or 1.3 itself: look for a proxy or firewall that intercepts TLS on the way "
                            + "to port 587", reply, List.of());
        }
        if (code >= 400 && code < 500) {
            return new Failure(Category.TRANSIENT, "the SMTP server deferred the message", "temporary: the server "
                    + "was busy or throttling; if it persists, check the mailbox's sending rate", reply, List.of());
        }
        if (sendAsDenied(reply)) {
            return new Failure(Category.PERMANENT, "the app may not send as this mailbox",
                    "give the app's service principal access to the sending mailbox (Add-MailboxPermission -Identity "
                            + "<mailbox> -User <service principal id> -AccessRights FullAccess), or send from a "
                            + "mailbox it already has access to", reply, List.of());
        }
        if (recipientRefused(code, reply)) {
            return new Failure(Category.PERMANENT, "a recipient address was refused", "correct the recipient "
                    + "address and send again", reply, List.of());
        }
        if (code == 552 || text.contains("5.3.4")) {
            return new Failure(Category.PERMANENT, "the message is too large for the server", "send smaller "
                    + "attachments (Exchange Online accepts about 35 MB after encoding)", reply, List.of());
        }
        return new Failure(Category.PERMANENT, "the SMTP server refused the message", "read the server's reply; "
                + "sending it again unchanged will fail again", reply, List.of());
    }

    /** The app may not send as the mailbox ({@code 550 5.7.60}, {@code SendAsDenied}): a permission, not the message. */
    public static boolean sendAsDenied(String reply) {
        String text = reply == null ? "" : reply.toUpperCase(Locale.ROOT);
        return text.contains("SENDASDENIED") || text.contains("5.7.60");
    }

    /** The server refused a recipient address ({@code 5.1.x}: unknown user, bad address). */
    public static boolean recipientRefused(int code, String reply) {
        String text = reply == null ? "" : reply.toUpperCase(Locale.ROOT);
        return text.contains("5.1.1") || text.contains("5.1.0") || text.contains("5.1.10")
                || code == 550 && text.contains("RECIPIENT");
    }

    private static int returnCode(Throwable e) {
        if (e instanceof SMTPSendFailedException s) {
            return s.getReturnCode();
        }
        if (e instanceof SMTPAddressFailedException a) {
            return a.getReturnCode();
        }
        if (e instanceof SMTPSenderFailedException s) {
            return s.getReturnCode();
        }
        return 0;
    }

    private static List<Throwable> chain(Throwable error) {
        List<Throwable> chain = new ArrayList<>();
        for (Throwable e = error; e != null && !chain.contains(e) && chain.size() < 20;) {
            chain.add(e);
            Throwable next = e instanceof MessagingException m && m.getNextException() != null
                    ? m.getNextException() : e.getCause();
            e = next;
        }
        return chain;
    }

    /** JSSE's words for a certificate it refused, as opposed to a connection that broke during the handshake. */
    private static boolean isCertificateProblem(String message) {
        String m = message.toLowerCase(Locale.ROOT);
        return m.contains("certificate") || m.contains("pkix") || m.contains("trust anchor")
                || m.contains("unable to find valid certification path");
    }
}
