package dev.mailgate.auth;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

import com.microsoft.aad.msal4j.ClientCredentialFactory;
import com.microsoft.aad.msal4j.IClientCredential;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8DecryptorProviderBuilder;
import org.bouncycastle.openssl.jcajce.JcePEMDecryptorProviderBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.pkcs.PKCSException;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.Settings;

/**
 * Turns the configured client credential into what MSAL4J needs: a client secret (value or file), a
 * certificate from PEM key + certificate files, or a PKCS#12 file. File problems become configuration
 * errors that name the key and the file.
 */
public final class ClientCredentials {

    /** OpenSSL's encrypted keys use ciphers (AES/CBC/PKCS7Padding) the JDK's providers lack; not registered globally. */
    private static final Provider BOUNCY_CASTLE = new BouncyCastleProvider();

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
        PrivateKey key = privateKey(keyFile, keyPassword);
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

    static PrivateKey privateKey(Path file, String password) {
        String key = "mailgate.entra.private-key-file " + file;
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
                PEMParser parser = new PEMParser(reader)) {
            JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
            for (Object item = parser.readObject(); item != null; item = parser.readObject()) {
                if (item instanceof PrivateKeyInfo info) {
                    return converter.getPrivateKey(info);
                }
                if (item instanceof PEMKeyPair pair) {
                    return converter.getKeyPair(pair).getPrivate();
                }
                if (item instanceof PKCS8EncryptedPrivateKeyInfo encrypted) {
                    requirePassword(key, password);
                    return converter.getPrivateKey(encrypted.decryptPrivateKeyInfo(
                            new JceOpenSSLPKCS8DecryptorProviderBuilder().setProvider(BOUNCY_CASTLE).build(password.toCharArray())));
                }
                if (item instanceof PEMEncryptedKeyPair encrypted) {
                    requirePassword(key, password);
                    return converter.getKeyPair(encrypted.decryptKeyPair(
                            new JcePEMDecryptorProviderBuilder().setProvider(BOUNCY_CASTLE).build(password.toCharArray()))).getPrivate();
                }
            }
            throw new ConfigurationException(key + " holds no private key (-----BEGIN PRIVATE KEY----- or "
                    + "-----BEGIN RSA PRIVATE KEY-----)");
        } catch (NoSuchFileException e) {
            throw new ConfigurationException(key + " does not exist");
        } catch (PKCSException | OperatorCreationException e) {
            throw new ConfigurationException(key + " cannot be decrypted; check mailgate.entra.private-key-password");
        } catch (IOException e) {
            throw new ConfigurationException(key + " cannot be read as PEM (" + e.getClass().getSimpleName() + ")");
        }
    }

    private static void requirePassword(String key, String password) {
        if (password == null) {
            throw new ConfigurationException(key + " is encrypted; set mailgate.entra.private-key-password "
                    + "(or MAILGATE_ENTRA_PRIVATE_KEY_PASSWORD)");
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
