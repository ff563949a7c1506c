package dev.mailgate.support;

import java.security.cert.X509Certificate;
import java.time.Clock;

import dev.mailgate.sandbox.SandboxTokenEndpoint;
import dev.mailgate.sandbox.SandboxTokens;
import dev.mailgate.sandbox.SelfSignedCertificate;

/**
 * A token endpoint over real HTTPS that MSAL4J talks to with its own HTTP client, answering like Entra ID
 * for one tenant and one app registration (secret and, optionally, a certificate).
 */
public final class TestEntra implements AutoCloseable {

    public static final String TENANT = "11111111-2222-4333-8444-555555555555";
    public static final String CLIENT_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    public static final String SECRET = "Xy7~test-client-secret-value.0123456789";

    private final SandboxTokens tokens = new SandboxTokens(TENANT, Clock.systemUTC());
    private final SandboxTokenEndpoint endpoint;

    public TestEntra(SelfSignedCertificate tls, X509Certificate clientCertificate) {
        endpoint = new SandboxTokenEndpoint(tls.serverContext(), tokens,
                new SandboxTokenEndpoint.Registration(CLIENT_ID, SECRET, clientCertificate));
    }

    public SandboxTokens tokens() {
        return tokens;
    }

    public SandboxTokenEndpoint endpoint() {
        return endpoint;
    }

    public String authorityHost() {
        return endpoint.authorityHost();
    }

    public int requests() {
        return endpoint.requests();
    }

    @Override
    public void close() {
        endpoint.close();
    }
}
