package dev.mailgate.auth;

import java.net.MalformedURLException;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;

import javax.net.ssl.SSLSocketFactory;

import com.microsoft.aad.msal4j.ClientCredentialParameters;
import com.microsoft.aad.msal4j.ConfidentialClientApplication;
import com.microsoft.aad.msal4j.IAuthenticationResult;
import com.microsoft.aad.msal4j.IClientCredential;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.Settings;

/**
 * Client-credentials tokens from Entra ID through MSAL4J. Every call goes to Entra: caching is the job of
 * {@link TokenCache}.
 */
public final class EntraTokenSource implements TokenSource {

    private static final Logger LOG = LoggerFactory.getLogger(EntraTokenSource.class);

    private final Settings.Entra entra;
    private final ConfidentialClientApplication.Builder builder;
    private ConfidentialClientApplication app;

    public EntraTokenSource(Settings.Entra entra, IClientCredential credential, Optional<SSLSocketFactory> trust) {
        this.entra = entra;
        String authority = entra.authorityHost().replaceAll("/+$", "") + "/" + entra.tenantId() + "/";
        try {
            ConfidentialClientApplication.Builder builder = ConfidentialClientApplication
                    .builder(entra.clientId(), credential)
                    .authority(authority)
                    // no instance discovery round trip: the authority is configured, not discovered
                    .instanceDiscovery(false)
                    .validateAuthority(false)
                    .logPii(false)
                    .connectTimeoutForDefaultHttpClient((int) entra.connectTimeout().toMillis())
                    .readTimeoutForDefaultHttpClient((int) entra.readTimeout().toMillis());
            trust.ifPresent(builder::sslSocketFactory);
            entra.proxy().ifPresent(proxy -> {
                // MSAL4J's HTTP client (HttpsURLConnection) tunnels through it with CONNECT
                builder.proxy(new java.net.Proxy(java.net.Proxy.Type.HTTP, new java.net.InetSocketAddress(
                        proxy.host(), proxy.port())));
                ProxyCredentials.register(proxy);
            });
            this.builder = builder;
        } catch (MalformedURLException | IllegalArgumentException e) {
            throw new ConfigurationException("the authority " + authority + " (mailgate.entra.authority-host + "
                    + "mailgate.entra.tenant-id) is not a valid https URL");
        }
    }

    /**
     * The MSAL application, made at the first token request rather than at start-up (the builder has already checked
     * the settings): building it loads much of MSAL and its signed JSON library, whose signature the JVM checks.
     */
    private synchronized ConfidentialClientApplication app() {
        if (app == null) {
            app = builder.build();
        }
        return app;
    }

    @Override
    public AccessToken fetch() {
        ClientCredentialParameters parameters = ClientCredentialParameters.builder(Set.of(entra.scope()))
                .skipCache(true)
                .build();
        try {
            IAuthenticationResult result = app().acquireToken(parameters).get();
            AccessToken token = new AccessToken(result.accessToken(), result.expiresOnDate().toInstant());
            LOG.debug("Entra ID issued an access token valid until {}", token.expiresAt());
            return token;
        } catch (ExecutionException e) {
            TokenException explained = EntraErrors.explain(e.getCause(), entra);
            LOG.debug("Token request failed: {}", explained.getMessage());
            throw explained;
        } catch (RuntimeException e) {
            throw EntraErrors.explain(e, entra);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TokenException(TokenException.Kind.UNREACHABLE, "interrupted while asking Entra ID for a token");
        }
    }
}
