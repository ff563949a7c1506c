package dev.mailgate.auth;

import static dev.mailgate.text.Text.oneLine;

import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.security.cert.CertificateException;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.net.ssl.SSLException;

import com.microsoft.aad.msal4j.MsalServiceException;
import com.microsoft.aad.msal4j.MsalThrottlingException;

import dev.mailgate.config.Settings;
import dev.mailgate.text.Text;

/**
 * Explains why Entra ID gave no token, in one line that says what to fix. The AADSTS codes are Entra's
 * own; the advice is what an administrator has to do in the portal or configuration.
 */
public final class EntraErrors {

    private static final Pattern AADSTS = Pattern.compile("AADSTS(\\d+)");

    private static final Map<String, String> ADVICE = Map.ofEntries(
            Map.entry("7000215", "the client secret is wrong: use the secret's Value (not its Secret ID) from "
                    + "App registrations > Certificates & secrets, in MAILGATE_ENTRA_CLIENT_SECRET"),
            Map.entry("7000222", "the client secret has expired: create a new one under App registrations > "
                    + "Certificates & secrets and update MAILGATE_ENTRA_CLIENT_SECRET"),
            Map.entry("700016", "no application with client id '%client%' exists in tenant '%tenant%': check "
                    + "mailgate.entra.client-id (Application (client) ID) and mailgate.entra.tenant-id, and that "
                    + "the app has been consented in this tenant"),
            Map.entry("90002", "tenant '%tenant%' does not exist: set mailgate.entra.tenant-id to the Directory "
                    + "(tenant) ID or a verified domain, and for a national cloud set mailgate.cloud (usgov-gcchigh, usgov-dod, china)"),
            Map.entry("900023", "'%tenant%' is not a valid tenant identifier: use the Directory (tenant) ID GUID "
                    + "or a verified domain in mailgate.entra.tenant-id"),
            Map.entry("700027", "the certificate was not accepted: upload its public part (.cer/.pem) to the app "
                    + "under Certificates & secrets, or check that it has not expired"),
            Map.entry("700024", "the signed client assertion is outside its validity window: check this "
                    + "machine's clock"),
            Map.entry("7000112", "the application is disabled in this tenant: enable it under Enterprise "
                    + "applications > Properties"),
            Map.entry("70011", "the scope is invalid: mailgate.entra.scope must be Exchange Online's, "
                    + "https://outlook.office365.com/.default (mailgate.cloud sets a national cloud's)"),
            Map.entry("500011", "the resource in mailgate.entra.scope is not available in this tenant: use "
                    + "https://outlook.office365.com/.default, or the tenant's cloud with mailgate.cloud (a "
                    + "national cloud's tenant does not know the global resource), and check it has Exchange Online"),
            Map.entry("53003", "a Conditional Access policy blocks this app: exclude the app's service "
                    + "principal or allow its location"),
            Map.entry("7000218", "no client credential reached Entra ID: configure a client secret or certificate"));

    private EntraErrors() {
    }

    /** A {@link TokenException} for whatever MSAL4J threw while asking {@code entra} for a token. */
    public static TokenException explain(Throwable error, Settings.Entra entra) {
        for (Throwable e = error; e != null; e = e.getCause()) {
            if (e instanceof MsalThrottlingException) {
                return new TokenException(TokenException.Kind.UNREACHABLE,
                        "Entra ID is throttling token requests (HTTP 429); Mailgate will try again later",
                        "wait a minute and try again");
            }
            if (e instanceof MsalServiceException service) {
                return fromService(service, entra);
            }
            String message = String.valueOf(e.getMessage());
            if (message.startsWith("Unable to tunnel through proxy")) {
                // the JDK's words for a proxy that refused CONNECT; its status line is quoted in them
                String proxy = entra.proxy().map(Settings.Proxy::address).orElse("the proxy");
                if (message.contains(" 407")) {
                    String advice = "set mailgate.entra.proxy-user and MAILGATE_ENTRA_PROXY_PASSWORD to credentials "
                            + "the proxy " + proxy + " takes (Basic)";
                    return new TokenException(TokenException.Kind.REJECTED, "the proxy " + proxy + " wants "
                            + "credentials for the tunnel to Entra ID (HTTP 407); " + advice, advice);
                }
                return unreachable(entra, "the proxy " + proxy + " refused the tunnel (" + oneLine(message) + ")");
            }
            if (e instanceof UnknownHostException) {
                return unreachable(entra, "its host name does not resolve");
            }
            if (e instanceof ConnectException || e instanceof NoRouteToHostException) {
                return unreachable(entra, "the connection was refused");
            }
            if (e instanceof InterruptedIOException) {
                return unreachable(entra, "it did not answer in time (mailgate.entra.connect-timeout / read-timeout)");
            }
            if (e instanceof CertificateException
                    || e instanceof SSLException && String.valueOf(e.getMessage()).matches("(?is).*(certificate|pkix).*")) {
                String advice = "check proxies that intercept TLS and mailgate.tls.truststore";
                return new TokenException(TokenException.Kind.REJECTED, "TLS to Entra ID at " + entra.authorityHost()
                        + " failed (" + oneLine(e.getMessage()) + "): its certificate is not trusted by this Java "
                        + "runtime; " + advice, advice);
            }
            if (e instanceof SSLException) {
                return unreachable(entra, "the TLS connection broke (" + oneLine(e.getMessage()) + ")");
            }
        }
        return unreachable(entra, error.getClass().getSimpleName());
    }

    private static TokenException fromService(MsalServiceException e, Settings.Entra entra) {
        Integer status = e.statusCode();
        if (status != null && (status >= 500 || status == 429)) {
            return unreachable(entra, status == 429 ? "it is throttling token requests (HTTP 429)"
                    : "it answered HTTP " + status);
        }
        String description = firstLine(e.getMessage());
        Matcher m = AADSTS.matcher(description);
        String code = m.find() ? m.group(1) : null;
        String advice = code == null ? null : ADVICE.get(code);
        if (advice == null) {
            advice = "check mailgate.entra.tenant-id, mailgate.entra.client-id and the client credential";
        }
        advice = advice.replace("%client%", entra.clientId()).replace("%tenant%", entra.tenantId());
        String prefix = code == null ? "Entra ID refused the token request (" + e.errorCode() + ")"
                : "Entra ID refused the token request (AADSTS" + code + ")";
        return new TokenException(TokenException.Kind.REJECTED, prefix + ": " + advice + ". Entra said: " + description,
                advice);
    }

    private static TokenException unreachable(Settings.Entra entra, String why) {
        String advice = "check DNS, firewall and proxy for outbound HTTPS (mailgate.entra.proxy), and "
                + "mailgate.entra.authority-host";
        return new TokenException(TokenException.Kind.UNREACHABLE,
                "cannot reach Entra ID at " + entra.authorityHost() + ": " + why + "; " + advice, advice);
    }

    /** Entra's descriptions end with trace and correlation ids over several lines; the first sentence says it. */
    private static String firstLine(String message) {
        String line = Text.firstLine(message);
        int trace = line.indexOf(" Trace ID:");
        return trace > 0 ? line.substring(0, trace) : line;
    }
}
