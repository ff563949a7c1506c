package dev.mailgate.auth;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

import com.microsoft.aad.msal4j.ClientCredentialFactory;
import com.microsoft.aad.msal4j.IClientCredential;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.Settings;

/**
 * Turns the configured client credential into what MSAL4J needs: a client secret (value or file), a
 * certificate from PEM key + certificate files, or a PKCS#12 file. File problems become configuration
 * errors that name the key and the file.
 */
public final class ClientCredentials {

    private ClientCredentials() {
    }

    public static IClientCredential from(Settings.Entra entra) {
        if (entra.clientSecret().isPresent()) {
            return ClientCredentialFactory.createFromSecret(entra.clientSecret().get());
        }
        if (entra.clientSecretFile().isPresent()) {
            String secret = read("mailgate.entra.client-secret-file", entra.clientSecretFile().get()).trim();
            if (secret.isEmpty()) {
                throw new ConfigurationException("mailgate.entra.client-secret-file " + entra.clientSecretFile().get()
                        + " is empty; put the client secret's Value in it");
            }
            return ClientCredentialFactory.createFromSecret(secret);
        }
        if (entra.pkcs12File().isPresent()) {
            return pkcs12(entra.pkcs12File().get(), entra.pkcs12Password().orElse(""));
        }
        if (entra.certificateFile().isPresent() && entra.privateKeyFile().isPresent()) {
            return pem(entra.certificateFile().get(), entra.privateKeyFile().get(),
                    entra.privateKeyPassword().orElse(null));
        }
        throw new ConfigurationException("no client credential is configured: set MAILGATE_ENTRA_CLIENT_SECRET, "
                + "or mailgate.entra.certificate-file + mailgate.entra.private-key-file, or mailgate.entra.pkcs12-file");
    }

    private static IClientCredential pkcs12(Path file, String password) {
        try (InputStream in = Files.newInputStream(file)) {
            return ClientCredentialFactory.createFromCertificate(in, password);
        } catch (NoSuchFileException e) {
            throw new ConfigurationException("mailgate.entra.pkcs12-file " + file + " does not exist");
        } catch (IOException | GeneralSecurityException e) {
            throw new ConfigurationException("mailgate.entra.pkcs12-file " + file + " cannot be opened ("
                    + e.getClass().getSimpleName() + "); check the file and mailgate.entra.pkcs12-password");
        } catch (RuntimeException e) {
            throw new ConfigurationException("mailgate.entra.pkcs12-file " + file
                    + " holds no private key with a certificate; export the key together with its certificate");
        }
    }

    private static IClientCredential pem(Path certificateFile, Path keyFile, String keyPassword) {
        List<X509Certificate> chain = certificates(certificateFile);
        PrivateKey key = PemKeys.read(keyFile, keyPassword);
        return ClientCredentialFactory.createFromCertificateChain(key, chain);
    }

    static List<X509Certificate> certificates(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            CertificateFactory factory = CertificateFactory.getInstance("X.509");
            List<X509Certificate> chain = new ArrayList<>();
            factory.generateCertificates(in).forEach(c -> chain.add((X509Certificate) c));
            if (chain.isEmpty()) {
                throw new CertificateException("no certificate");
            }
            return chain;
        } catch (NoSuchFileException e) {
            throw new ConfigurationException("mailgate.entra.certificate-file " + file + " does not exist");
        } catch (IOException | CertificateException e) {
            throw new ConfigurationException("mailgate.entra.certificate-file " + file
                    + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }
    }

    private static String read(String key, Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigurationException(key + " " + file + " does not exist");
        } catch (IOException e) {
            throw new ConfigurationException(key + " " + file + " cannot be read (" + e.getClass().getSimpleName() + ")");
        }
    }
}
