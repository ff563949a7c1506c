package dev.mailgate.cli;

import java.security.KeyStore;
import java.util.Map;
import java.util.Optional;

import javax.net.ssl.SSLContext;

import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.spi.PropertiesComponent;

import dev.mailgate.app.GatewayMain;
import dev.mailgate.auth.ClientCredentials;
import dev.mailgate.auth.EntraTokenSource;
import dev.mailgate.auth.TokenSource;
import dev.mailgate.config.Settings;
import dev.mailgate.config.TrustStores;
import dev.mailgate.sandbox.Sandbox;

/**
 * What an operator command talks to: the configured tenant and SMTP server, read exactly as the gateway reads
 * them ({@code application.properties}, {@code mailgate.properties}, environment variables, then the command's
 * own {@code --set key=value}s) — or, when no tenant is configured, a sandbox started for the command.
 */
final class Target implements AutoCloseable {

    final Settings settings;
    final Optional<KeyStore> trust;
    private final Sandbox sandbox;

    private Target(Settings settings, Optional<KeyStore> trust, Sandbox sandbox) {
        this.settings = settings;
        this.trust = trust;
        this.sandbox = sandbox;
    }

    /** The settings only; nothing is started. */
    static Settings settings(Map<String, String> overrides) {
        // a context that is never started: only its property resolution, the gateway's own (--set values win, as
        // Camel Main's override properties do for the gateway)
        PropertiesComponent properties = new DefaultCamelContext(false).getPropertiesComponent();
        properties.setLocation(GatewayMain.PROPERTY_LOCATIONS);
        return Settings.read(key -> overrides.containsKey(key) ? java.util.Optional.of(overrides.get(key))
                : properties.resolveProperty(key));
    }

    /**
     * The settings and, in sandbox mode, the sandbox's servers (delivered mail goes to {@code data/sandbox/} as it
     * does for the gateway).
     *
     * @throws dev.mailgate.config.ConfigurationException when a setting is wrong
     */
    static Target open(Map<String, String> overrides) {
        Settings settings = settings(overrides);
        if (settings.sandbox()) {
            Sandbox sandbox = Sandbox.start(settings.sandboxDir(), settings.entra().clientSecret());
            sandbox.start();
            return new Target(settings.withSandbox("localhost", sandbox.smtpPort(), sandbox.authorityHost(),
                    Sandbox.TENANT, Sandbox.CLIENT_ID, sandbox.clientSecret(), Sandbox.SENDER),
                    Optional.of(sandbox.trustStore()), sandbox);
        }
        return new Target(settings, settings.trust().map(TrustStores::load), null);
    }

    boolean sandbox() {
        return sandbox != null;
    }

    /** Tokens from Entra ID (or the sandbox's endpoint) with the configured credential, through MSAL4J. */
    TokenSource tokenSource() {
        return new EntraTokenSource(settings.entra(), ClientCredentials.from(settings.entra()),
                trust.map(TrustStores::sslContext).map(SSLContext::getSocketFactory));
    }

    /** TLS for SMTP: the configured trust store, or the Java runtime's CAs. */
    SSLContext smtpTls() {
        return TrustStores.sslContext(trust.orElse(null));
    }

    @Override
    public void close() {
        if (sandbox != null) {
            sandbox.stop();
        }
    }
}
