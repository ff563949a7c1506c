package dev.mailgate.sandbox;

import java.nio.file.Path;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Base64;
import java.util.Optional;

import javax.net.ssl.SSLContext;

import org.apache.camel.support.service.ServiceSupport;

/**
 * The zero-configuration mode: an embedded STARTTLS + XOAUTH2 submission server and an embedded HTTPS
 * token endpoint, both on the loopback interface with a certificate made at start-up, so Mailgate's whole
 * production path (MSAL4J token request, TLS verification, SASL XOAUTH2, SMTP) runs without a Microsoft
 * tenant. Delivered mail is written to {@code data/sandbox/}.
 */
public final class Sandbox extends ServiceSupport {

    public static final String TENANT = "00000000-0000-4000-8000-5a4db0c5a4db";
    public static final String CLIENT_ID = "mailgate-sandbox";
    public static final String SENDER = "mailgate@sandbox.test";

    private final SelfSignedCertificate certificate;
    private final SandboxTokens tokens;
    private final SandboxTokenEndpoint entra;
    private final SandboxSmtpServer smtp;
    private final String clientSecret;

    private Sandbox(Path mailFolder, String clientSecret) {
        this.clientSecret = clientSecret;
        certificate = SelfSignedCertificate.forLocalhost();
        SSLContext tls = certificate.serverContext();
        tokens = new SandboxTokens(TENANT, Clock.systemUTC());
        entra = new SandboxTokenEndpoint(tls, tokens,
                new SandboxTokenEndpoint.Registration(CLIENT_ID, clientSecret, null));
        smtp = new SandboxSmtpServer(tls, new XOAuth2Authentication((mailbox, token) -> tokens.problem(token), null),
                mailFolder);
    }

    /**
     * Starts both servers now (their ports are needed to configure the SMTP endpoint).
     *
     * @param clientSecret the secret the token endpoint expects; a random one when none is configured
     */
    public static Sandbox start(Path mailFolder, Optional<String> clientSecret) {
        return new Sandbox(mailFolder, clientSecret.orElseGet(Sandbox::randomSecret));
    }

    public int smtpPort() {
        return smtp.port();
    }

    public String authorityHost() {
        return entra.authorityHost();
    }

    public String clientSecret() {
        return clientSecret;
    }

    /** What clients trust: the sandbox certificate and nothing else. */
    public KeyStore trustStore() {
        return certificate.trustStore();
    }

    @Override
    protected void doStart() {
        // both servers listen from construction on
    }

    @Override
    protected void doStop() {
        smtp.close();
        entra.close();
    }

    private static String randomSecret() {
        byte[] bytes = new byte[24];
        new SecureRandom().nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
