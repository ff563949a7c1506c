package dev.mailgate.policy;

import static dev.mailgate.text.Text.oneLine;

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
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.JdbcJournal;
import dev.mailgate.outcome.KnownFailure;
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

    /**
     * {@code 5.7.60} / {@code SendAsDenied}: the authenticating mailbox may not send as the from address. Not held:
     * it is about one from address, and the mailbox's other senders are fine.
     */
    static final String SEND_AS_ADVICE = "when from is another address than the mailbox that authenticates (a shared "
            + "mailbox, group or alias, see mailgate.authenticate-as), give that mailbox Send As on it: "
            + "Add-RecipientPermission -Identity <from address> -AccessRights SendAs -Trustee <mailbox> (it can take "
            + "an hour to apply); when from is the authenticating mailbox itself, the app has no access to it: with RBAC "
            + "for Applications, put the mailbox in the management scope of the app's 'Application SMTP.SendAsApp' "
            + "assignment (Test-ServicePrincipalAuthorization -Identity <client id> -Resource <mailbox>), or the "
            + "classic way Add-MailboxPermission -Identity <mailbox> -User <service principal id> -AccessRights "
            + "FullAccess";

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
            if (e instanceof dev.mailgate.transport.ProxyTunnel.Refused proxy) {
                return proxyRefused(proxy);
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
                        + rejected.mailbox(), authAdvice(rejected.serverReply()).replace("<mailbox>",
                                rejected.mailbox()), rejected.serverReply(), List.of());
            }
            if (e instanceof SMTPSendFailedException || e instanceof SMTPAddressFailedException
                    || e instanceof SMTPSenderFailedException) {
                return smtpReply(stage(e), returnCode(e), oneLine(e.getMessage()));
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

    /** Where in the SMTP session a reply came: Exchange means different things by one code at different stages. */
    public enum Stage {
        AUTH, MAIL_FROM, RCPT_TO, DATA,
        /** Not known (a reply without its command). */
        UNKNOWN
    }

    /** What an SMTP reply code and text (Exchange Online's wording) mean, the stage not known. */
    public Failure smtpReply(int code, String reply) {
        return smtpReply(Stage.UNKNOWN, code, reply);
    }

    /**
     * What an SMTP reply code and text mean for this message, given the stage of the session that got it. The
     * replies an SMTP AUTH submission client can get from Exchange Online are those of Microsoft's pages "SMTP AUTH
     * submission improvements" (the limits: 4.3.2, 5.2.2 mailbox full, 5.2.0 submission quota), "Continuous error
     * throttling for SMTP AUTH submissions" (5.2.251-255), "Fix issues with printers, scanners and LOB applications"
     * (5.7.3, 5.7.139, 5.7.57, 5.7.60, 5.1.8) and the table of "Email non-delivery reports and SMTP errors in Exchange
     * Online"; README "Exchange Online's replies" lists what each one does.
     */
    public Failure smtpReply(Stage stage, int code, String reply) {
        String text = reply.toUpperCase(Locale.ROOT);
        if (code < 0) {
            // Angus Mail's code for "[EOF]": the connection ended before the server replied
            return new Failure(Category.TRANSIENT, "the connection to the SMTP server ended before it replied",
                    "temporary: Mailgate tries again; if it persists, check the network path to the server", reply,
                    List.of());
        }
        // a deferral is never a hold or a bounce, whatever numbers its text holds (Exchange quotes the client's
        // IP address in some: [85.1.8.4] must not read as 5.1.8)
        if (hasCode(text, "4.7.66")) {
            return new Failure(Category.CONFIGURATION, "Exchange Online refused the TLS version of the connection",
                    "Mailgate uses TLS 1.2 or 1.3 itself: look for a proxy or firewall that intercepts TLS on the way "
                            + "to port 587", reply, List.of());
        }
        if (code == 432 || hasCode(text, "4.3.2") && text.contains("THREAD LIMIT")
                || text.contains("CONCURRENT CONNECTION")) {
            return new Failure(Category.TRANSIENT, "Exchange Online allows only 3 SMTP connections per mailbox at "
                    + "once, and this one would be more", "temporary: Mailgate tries again; if it persists, "
                    + "another program (or another Mailgate) sends as the same mailbox: lower "
                    + "mailgate.limits.connections-per-mailbox or stop the other sender", reply, List.of());
        }
        if (code >= 400 && code < 500) {
            return new Failure(Category.TRANSIENT, "the SMTP server deferred the message", "temporary: the server "
                    + "was busy or throttling; if it persists, check the mailbox's sending rate", reply, List.of());
        }
        if (text.contains("SUBMISSIONQUOTAEXCEEDED") || hasCode(text, "5.2.0") && text.contains("QUOTA")
                || text.contains("SUBMISSION QUOTA") || hasCode(text, "5.1.90")) {
            return new Failure(Category.QUOTA, "the mailbox has used up its sending quota (10,000 recipients per "
                    + "24 hours in Exchange Online)", "wait for the 24-hour window to free up, or spread sending over "
                    + "several mailboxes", reply, List.of());
        }
        java.util.regex.Matcher throttled = CONTINUOUS_ERRORS.matcher(text);
        if (throttled.find()) {
            return continuousErrors(throttled.group(1), reply);
        }
        if (hasCode(text, "5.2.2") && stage == Stage.RCPT_TO) {
            return new Failure(Category.PERMANENT, "the recipient's mailbox is full", "the recipient has to make "
                    + "room in their mailbox; send again later or to another address", reply, List.of());
        }
        if (hasCode(text, "5.2.2") && (text.contains("STOREDRV") || text.contains("QUOTAEXCEEDED")
                || text.contains("MAILBOX FULL")) || text.contains("QUOTAEXCEEDEDEXCEPTION")) {
            return new Failure(Category.MAILBOX_FULL, "the sending mailbox is full: Exchange Online saves every SMTP "
                    + "submission to its Sent Items and refuses to submit while the mailbox is over its quota",
                    "make room in the mailbox: empty or archive its Sent Items (and Deleted Items), apply a retention "
                            + "policy that removes old Sent Items, or give the mailbox a larger quota "
                            + "(Set-Mailbox -Identity <mailbox> -ProhibitSendQuota ...); Mailgate lets one request "
                            + "through now and then and resumes when Exchange takes it", reply, List.of());
        }
        if (code == 535 || code == 530 || hasCode(text, "5.7.57") || hasCode(text, "5.7.139")
                || hasCode(text, "5.7.30")) {
            return new Failure(Category.AUTH, "the SMTP server refused authentication", authAdvice(reply), reply,
                    List.of());
        }
        if (hasCode(text, "5.7.708") || hasCode(text, "5.7.705")) {
            // not about this message: Exchange Online takes no mail from the tenant at all
            return new Failure(Category.AUTH, "Exchange Online does not accept mail from this tenant",
                    "new tenants and tenants with a low sending reputation are blocked from sending until Microsoft "
                            + "lifts it: open a support request in the Microsoft 365 admin center", reply, List.of());
        }
        if (hasCode(text, "5.1.8") || hasCode(text, "5.7.501") || hasCode(text, "5.7.502")
                || hasCode(text, "5.7.503")) {
            return new Failure(Category.SENDER_BLOCKED, "Exchange Online blocked the sending mailbox for outbound spam",
                    "in the Microsoft Defender portal, Email & collaboration > Review > Restricted entities: release "
                            + "the mailbox (restrictions are usually lifted within an hour), and find out what sent "
                            + "the spam", reply, List.of());
        }
        if (sendAsDenied(reply)) {
            return new Failure(Category.PERMANENT, "Exchange Online refused to send as the message's from address",
                    SEND_AS_ADVICE, reply, List.of());
        }
        if (hasCode(text, "5.7.750")) {
            return new Failure(Category.PERMANENT, "Exchange Online does not send from a domain the tenant has not "
                    + "registered", "send from an address in one of the tenant's accepted domains, or add and "
                    + "verify the domain in the Microsoft 365 admin center (Settings > Domains)", reply, List.of());
        }
        if (hasCode(text, "5.7.703")) {
            return new Failure(Category.PERMANENT, "the tenant's own Tenant Allow/Block List blocks this message",
                    "remove the entry for the sender or a recipient from the Tenant Allow/Block List (Microsoft "
                            + "Defender portal)", reply, List.of());
        }
        if (hasCode(text, "5.7.512")) {
            return new Failure(Category.PERMANENT, "Exchange Online refused the message's From header (RFC 5322 "
                    + "section 3.6.2)", "give the request a valid from address", reply, List.of());
        }
        if (recipientRefused(code, reply) || stage == Stage.RCPT_TO) {
            return new Failure(Category.PERMANENT, "a recipient address was refused", "correct the recipient "
                    + "address and send again", reply, List.of());
        }
        if (code == 552 || hasCode(text, "5.3.4")) {
            return new Failure(Category.PERMANENT, "the message is too large for the server", "send smaller "
                    + "attachments (Exchange Online accepts about 35 MB after encoding)", reply, List.of());
        }
        return new Failure(Category.PERMANENT, "the SMTP server refused the message", "read the server's reply; "
                + "sending it again unchanged will fail again", reply, List.of());
    }

    /** The SMTP proxy ({@code mailgate.smtp.proxy}) refused the tunnel to the server. */
    public static Failure proxyRefused(dev.mailgate.transport.ProxyTunnel.Refused refused) {
        if (refused.credentials()) {
            return new Failure(Category.CONFIGURATION, oneLine(refused.getMessage()), "set mailgate.smtp.proxy-user "
                    + "and MAILGATE_SMTP_PROXY_PASSWORD to credentials the proxy " + refused.proxy() + " takes");
        }
        if (refused.temporary()) {
            return new Failure(Category.TRANSIENT, oneLine(refused.getMessage()), "temporary: the proxy could not "
                    + "reach the SMTP server; if it persists, check the proxy's own route to port 587");
        }
        return new Failure(Category.CONFIGURATION, oneLine(refused.getMessage()), "let the proxy "
                + refused.proxy() + " open tunnels to the SMTP server's port (587), or check mailgate.smtp.proxy");
    }

    /** Whether {@code text} holds the enhanced status code {@code code} itself (5.2.2, and not 5.2.252). */
    private static boolean hasCode(String text, String code) {
        return java.util.regex.Pattern.compile("(?<![\\d.])" + java.util.regex.Pattern.quote(code) + "(?!\\d|\\.\\d)")
                .matcher(text).find();
    }

    /** {@code 550 5.2.25x Sender throttled due to continuous ... errors}: which errors, by the code's last digit. */
    private static final java.util.regex.Pattern CONTINUOUS_ERRORS = java.util.regex.Pattern.compile(
            "5\\.2\\.25([1-5])\\b(?=.*CONTINUOUS)");

    /**
     * Exchange Online stopped taking SMTP AUTH submissions from the mailbox for a while (Microsoft decides how long;
     * its support cannot lift it) after a run of errors of one kind: the requests are deferred like a used-up quota,
     * never given up on, and the advice names what causes those errors.
     */
    private static Failure continuousErrors(String kind, String reply) {
        String cause = switch (kind) {
            case "1" -> "mailbox full errors: make room in the sending mailbox (empty or archive Sent Items)";
            case "2" -> "Send As denied errors: give the mailbox Send As on the from addresses (Add-RecipientPermission "
                    + "-Identity <from address> -AccessRights SendAs -Trustee <mailbox>) or send from the mailbox itself";
            case "3" -> "invalid licence errors: give the sending mailbox an Exchange Online licence";
            case "4" -> "too many recipients errors: send to fewer recipients per message "
                    + "(mailgate.limits.max-recipients)";
            default -> "invalid recipient errors: stop sending to addresses that do not exist";
        };
        return new Failure(Category.QUOTA, "Exchange Online throttles the mailbox after continuous errors",
                "Mailgate defers its requests until Exchange takes them again (Microsoft decides how long, and its "
                        + "support cannot shorten it); remove the cause, " + cause, reply, List.of());
    }

    /** The app may not send as the mailbox ({@code 550 5.7.60}, {@code SendAsDenied}): a permission, not the message. */
    public static boolean sendAsDenied(String reply) {
        String text = reply == null ? "" : reply.toUpperCase(Locale.ROOT);
        return text.contains("SENDASDENIED") || hasCode(text, "5.7.60");
    }

    /** The server refused a recipient address ({@code 5.1.x}: unknown user, bad address). */
    public static boolean recipientRefused(int code, String reply) {
        String text = reply == null ? "" : reply.toUpperCase(Locale.ROOT);
        return hasCode(text, "5.1.1") || hasCode(text, "5.1.0") || hasCode(text, "5.1.10")
                || code == 550 && text.contains("RECIPIENT");
    }

    /** The stage of a refusal, from the command Angus Mail sent before it. */
    private static Stage stage(Throwable e) {
        String command = e instanceof SMTPSendFailedException s ? s.getCommand()
                : e instanceof SMTPAddressFailedException a ? a.getCommand()
                : e instanceof SMTPSenderFailedException f ? f.getCommand() : null;
        String c = command == null ? "" : command.strip().toUpperCase(Locale.ROOT);
        if (c.startsWith("RCPT")) {
            return Stage.RCPT_TO;
        }
        if (c.startsWith("MAIL")) {
            return Stage.MAIL_FROM;
        }
        if (c.equals(".") || c.startsWith("DATA") || c.startsWith("BDAT")) {
            return Stage.DATA;
        }
        return e instanceof SMTPAddressFailedException ? Stage.RCPT_TO : Stage.UNKNOWN;
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
