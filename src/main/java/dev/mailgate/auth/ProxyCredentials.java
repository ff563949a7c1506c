package dev.mailgate.auth;

import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.mailgate.config.Settings;

/**
 * The credentials of the HTTPS proxy to Entra ID ({@code mailgate.entra.proxy-user}, {@code -password}). MSAL4J's
 * HTTP client is the JDK's {@code HttpsURLConnection}, which takes proxy credentials only from the JVM's default
 * {@link Authenticator}: this one answers a proxy's {@code 407} for the configured proxy's host and port alone, and
 * nothing else (no server, no other proxy gets the password).
 * <p>
 * The JDK refuses Basic authentication for HTTPS tunnels unless {@code jdk.http.auth.tunneling.disabledSchemes} says
 * otherwise, and reads that property once, when its HTTP client is first used: it is cleared here, before Mailgate's
 * first token request, unless it was set on the command line.
 */
public final class ProxyCredentials extends Authenticator {

    private static final String TUNNELING = "jdk.http.auth.tunneling.disabledSchemes";
    private static final ProxyCredentials INSTANCE = new ProxyCredentials();

    private final Map<String, PasswordAuthentication> proxies = new ConcurrentHashMap<>();

    private ProxyCredentials() {
    }

    /** Answers {@code proxy}'s requests for credentials from now on, when it has a user. */
    public static synchronized void register(Settings.Proxy proxy) {
        if (proxy.user().isEmpty()) {
            return;
        }
        if (System.getProperty(TUNNELING) == null) {
            System.setProperty(TUNNELING, "");
        }
        INSTANCE.proxies.put(key(proxy.host(), proxy.port()), new PasswordAuthentication(proxy.user().get(),
                proxy.password().orElse("").toCharArray()));
        Authenticator.setDefault(INSTANCE);
    }

    @Override
    protected PasswordAuthentication getPasswordAuthentication() {
        if (getRequestorType() != RequestorType.PROXY) {
            return null;
        }
        return proxies.get(key(getRequestingHost(), getRequestingPort()));
    }

    private static String key(String host, int port) {
        return String.valueOf(host).toLowerCase(java.util.Locale.ROOT) + ":" + port;
    }
}
