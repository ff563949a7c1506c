package dev.mailgate.auth;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.Provider;

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

/**
 * The private key of a PEM certificate credential ({@code mailgate.entra.private-key-file}), read with Bouncy Castle.
 * Apart from {@link ClientCredentials} so that Bouncy Castle is loaded only when such a key is configured: its jars
 * are signed, and merely resolving the exceptions caught here, when the JVM verifies the class, makes it check a jar
 * signature (a tenth of a second or more of every start-up, client secrets included).
 */
final class PemKeys {

    /** OpenSSL's encrypted keys use ciphers (AES/CBC/PKCS7Padding) the JDK's providers lack; not registered globally. */
    private static final Provider BOUNCY_CASTLE = new BouncyCastleProvider();

    private PemKeys() {
    }

    static PrivateKey read(Path file, String password) {
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
                            new JceOpenSSLPKCS8DecryptorProviderBuilder().setProvider(BOUNCY_CASTLE)
                                    .build(password.toCharArray())));
                }
                if (item instanceof PEMEncryptedKeyPair encrypted) {
                    requirePassword(key, password);
                    return converter.getKeyPair(encrypted.decryptKeyPair(
                            new JcePEMDecryptorProviderBuilder().setProvider(BOUNCY_CASTLE)
                                    .build(password.toCharArray()))).getPrivate();
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
}
