package dev.mailgate.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import org.apache.camel.support.jsse.KeyStoreParameters;
import org.apache.camel.support.jsse.SSLContextParameters;
import org.apache.camel.support.jsse.TrustManagersParameters;

/** The trust store of {@code mailgate.tls.truststore}, for the gateway and the operator commands alike. */
public final class TrustStores {

    private TrustStores() {
    }

    public static KeyStore load(Settings.Trust trust) {
        try (InputStream in = Files.newInputStream(trust.file())) {
            KeyStore store = KeyStore.getInstance(trust.file().toString().endsWith(".jks") ? "JKS" : "PKCS12");
            store.load(in, trust.password().toCharArray());
            return store;
        } catch (NoSuchFileException e) {
            throw new ConfigurationException("mailgate.tls.truststore " + trust.file() + " does not exist");
        } catch (IOException | GeneralSecurityException e) {
            throw new ConfigurationException("mailgate.tls.truststore " + trust.file() + " cannot be read ("
                    + e.getMessage() + "); it must be PKCS#12 (or .jks) with mailgate.tls.truststore-password");
        }
    }

    /** A TLS context that trusts exactly {@code trust}, or the Java runtime's CAs when it is {@code null}. */
    public static SSLContext sslContext(KeyStore trust) {
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, tmf.getTrustManagers(), null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The same trust for a Camel endpoint's {@code sslContextParameters} (the smtp endpoint's STARTTLS). */
    public static SSLContextParameters parameters(KeyStore trust) {
        KeyStoreParameters store = new KeyStoreParameters();
        store.setKeyStore(trust);
        TrustManagersParameters trustManagers = new TrustManagersParameters();
        trustManagers.setKeyStore(store);
        SSLContextParameters parameters = new SSLContextParameters();
        parameters.setTrustManagers(trustManagers);
        return parameters;
    }
}
