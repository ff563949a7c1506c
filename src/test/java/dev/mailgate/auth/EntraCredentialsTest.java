package dev.mailgate.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import org.awaitility.Awaitility;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.MailgateExtension;
import dev.mailgate.support.TestEntra;

/**
 * Every supported client credential gets a token from a real HTTPS token endpoint through MSAL4J, and every
 * way Entra ID says no ends as a one-line error that says what to fix.
 * <p>
 * A credential is the gateway's configuration: each case has a gateway of its own ({@link MailgateExtension}, one per
 * nested class), with the secret replaced by the case's credential where it tests another.
 */
class EntraCredentialsTest {

    private static final String HELLO = """
            {"to": "alice@example.com", "subject": "Hello", "text": "Hi"}
            """;

    /** The app's own certificate, registered with the token endpoint (RSA, as Entra requires): made once. */
    private static final SelfSignedCertificate APP_CERTIFICATE = SelfSignedCertificate.create("mailgate-app",
            List.of(), List.of());

    /** A gateway configured without the client secret, its app registered with {@code registered} as well. */
    private static MailgateExtension withoutSecret(X509Certificate registered) {
        return MailgateExtension.realTenant().withQuickStop()
                .withClientCertificate(registered)
                .with("mailgate.entra.client-secret", "");
    }

    /**
     * A gateway with the PEM files {@code app.crt} and {@code app.key} of {@code certificate} as its credential, its
     * app registered with {@link #APP_CERTIFICATE}.
     */
    private static MailgateExtension withPemFiles(SelfSignedCertificate certificate) {
        return withoutSecret(APP_CERTIFICATE.certificate())
                .prepare(dir -> {
                    pem(dir.resolve("app.crt"), certificate.certificate());
                    pem(dir.resolve("app.key"), certificate.keyPair().getPrivate());
                })
                .withFolder("mailgate.entra.certificate-file", "app.crt")
                .withFolder("mailgate.entra.private-key-file", "app.key");
    }

    private static void sendsOne(MailgateExtension mailgate) {
        mailgate.gateway().drop("hello.json", HELLO);
        mailgate.gateway().awaitSent("hello.json");
        assertThat(mailgate.smtp().received()).hasSize(1);
        assertThat(mailgate.entra().requests()).isEqualTo(1);
    }

    @Nested
    class PemFiles {

        @RegisterExtension
        static final MailgateExtension MAILGATE = withPemFiles(APP_CERTIFICATE);

        @Test
        void certificate_from_pem_key_and_certificate_files_gets_a_token() {
            sendsOne(MAILGATE);
        }
    }

    @Nested
    class EncryptedPemKey {

        @RegisterExtension
        static final MailgateExtension MAILGATE = withoutSecret(APP_CERTIFICATE.certificate())
                .prepare(dir -> {
                    pem(dir.resolve("app.crt"), APP_CERTIFICATE.certificate());
                    try (Writer out = Files.newBufferedWriter(dir.resolve("app-encrypted.key"));
                            JcaPEMWriter writer = new JcaPEMWriter(out)) {
                        writer.writeObject(new JcaPKCS8Generator(APP_CERTIFICATE.keyPair().getPrivate(),
                                new JceOpenSSLPKCS8EncryptorBuilder(JcaPKCS8Generator.AES_256_CBC)
                                        .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider())
                                        .setPassword("key-pass".toCharArray()).build()));
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    } catch (OperatorCreationException e) {
                        throw new IllegalStateException(e);
                    }
                })
                .withFolder("mailgate.entra.certificate-file", "app.crt")
                .withFolder("mailgate.entra.private-key-file", "app-encrypted.key")
                .with("mailgate.entra.private-key-password", "key-pass");

        @Test
        void certificate_from_an_encrypted_pem_key_with_its_password_gets_a_token() {
            sendsOne(MAILGATE);
        }
    }

    @Nested
    class Pkcs12File {

        @RegisterExtension
        static final MailgateExtension MAILGATE = withoutSecret(APP_CERTIFICATE.certificate())
                .prepare(dir -> {
                    try (OutputStream out = Files.newOutputStream(dir.resolve("app.p12"))) {
                        KeyStore store = KeyStore.getInstance("PKCS12");
                        store.load(null, null);
                        store.setKeyEntry("app", APP_CERTIFICATE.keyPair().getPrivate(), "p12-pass".toCharArray(),
                                new X509Certificate[] {APP_CERTIFICATE.certificate()});
                        store.store(out, "p12-pass".toCharArray());
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    } catch (GeneralSecurityException e) {
                        throw new IllegalStateException(e);
                    }
                })
                .withFolder("mailgate.entra.pkcs12-file", "app.p12")
                .with("mailgate.entra.pkcs12-password", "p12-pass");

        @Test
        void certificate_from_a_pkcs12_file_gets_a_token() {
            sendsOne(MAILGATE);
        }
    }

    @Nested
    class SecretFile {

        @RegisterExtension
        static final MailgateExtension MAILGATE = withoutSecret(null)
                .prepare(dir -> {
                    try {
                        Files.writeString(dir.resolve("secret.txt"), TestEntra.SECRET + "\n");
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                })
                .withFolder("mailgate.entra.client-secret-file", "secret.txt");

        @Test
        void client_secret_from_a_file_gets_a_token() {
            sendsOne(MAILGATE);
        }
    }

    @Nested
    class UnregisteredCertificate {

        @RegisterExtension
        static final MailgateExtension MAILGATE = withPemFiles(SelfSignedCertificate.create("someone-else",
                List.of(), List.of()));

        @Test
        void certificate_not_registered_with_the_app_is_explained() {
            MAILGATE.gateway().drop("hello.json", HELLO);

            Journal.Entry held = MAILGATE.gateway().awaitHeld(Gateway.SENDER);

            assertThat(held.failureReason()).contains("AADSTS700027", "upload its public part");
        }
    }

    @Nested
    class WrongSecret {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.entra.client-secret", "wrong-secret-value-123");

        @Test
        void wrong_client_secret_is_explained_without_showing_it() {
            Gateway gateway = MAILGATE.gateway();
            gateway.drop("hello.json", HELLO);

            Journal.Entry held = gateway.awaitHeld(Gateway.SENDER);

            assertThat(held.failureReason())
                    .contains("AADSTS7000215", "the secret's Value (not its Secret ID)",
                            "MAILGATE_ENTRA_CLIENT_SECRET")
                    .doesNotContain("wrong-secret-value-123").doesNotContain("Trace ID");
            assertThat(held.attempts()).isEqualTo(1);
            assertThat(gateway.queued("hello.json")).exists();
            assertThat(MAILGATE.smtp().saslResponses()).isEmpty();
        }
    }

    @Nested
    class UnknownClientId {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.entra.client-id", "99999999-0000-4000-8000-000000000000");

        @Test
        void unknown_client_id_is_explained() {
            MAILGATE.gateway().drop("hello.json", HELLO);

            Journal.Entry held = MAILGATE.gateway().awaitHeld(Gateway.SENDER);

            assertThat(held.failureReason()).contains("AADSTS700016",
                    "no application with client id '99999999-0000-4000-8000-000000000000'", "mailgate.entra.client-id");
        }
    }

    @Nested
    class UnknownTenant {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.entra.tenant-id", "contoso-typo.onmicrosoft.com");

        @Test
        void unknown_tenant_is_explained() {
            MAILGATE.gateway().drop("hello.json", HELLO);

            Journal.Entry held = MAILGATE.gateway().awaitHeld(Gateway.SENDER);

            assertThat(held.failureReason()).contains("AADSTS90002",
                    "tenant 'contoso-typo.onmicrosoft.com' does not exist", "mailgate.entra.tenant-id");
        }
    }

    /** Tokens live 3599 s; margin + ahead = 3596 s, so a token enters the refresh window 2 to 3 s after issue. */
    @Nested
    class RefreshWhileEntraIsDown {

        private static final Duration MARGIN_AND_AHEAD = Duration.ofSeconds(3596);

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.token.refresh-margin", "1m")
                .with("mailgate.token.refresh-ahead", MARGIN_AND_AHEAD.minusMinutes(1).toSeconds() + "s")
                .with("mailgate.token.failure-backoff", "0s");

        @Test
        void valid_token_keeps_being_used_while_a_refresh_fails_because_entra_is_unreachable() {
            Gateway gateway = MAILGATE.gateway();
            gateway.drop("first.json", HELLO);
            gateway.awaitSent("first.json");
            MAILGATE.entra().close();
            TokenCache tokens = gateway.context().getRegistry()
                    .lookupByNameAndType("xoauth2", XOAuth2Authenticator.class).tokens();
            Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() -> tokens
                    .peek().orElseThrow().remainingAt(Instant.now()).compareTo(MARGIN_AND_AHEAD) < 0);

            gateway.drop("second.json", HELLO);
            gateway.awaitSent("second.json");

            Awaitility.await().until(() -> tokens.failureCount() >= 1);
            assertThat(tokens.lastFailure()).hasValueSatisfying(
                    e -> assertThat(e.getMessage()).contains("cannot reach Entra ID"));
            assertThat(MAILGATE.smtp().received()).hasSize(2);
            // the first token throughout (on the kept connection, or on a new one authenticated with it)
            List<String> sasl = MAILGATE.smtp().saslResponses();
            assertThat(sasl).isNotEmpty().containsOnly(sasl.get(0));
        }
    }

    @Nested
    class EntraUnreachable {

        @RegisterExtension
        static final MailgateExtension MAILGATE = MailgateExtension.realTenant().withQuickStop()
                .with("mailgate.delivery.max-attempts", "2")
                .with("mailgate.token.failure-backoff", "0s");

        @Test
        void unreachable_entra_without_a_token_is_retried_then_reported_as_transient() {
            Gateway gateway = MAILGATE.gateway();
            MAILGATE.entra().close();
            gateway.drop("hello.json", HELLO);

            JsonNode error = gateway.awaitFailed("hello.json");

            assertThat(error.path("category").asText()).isEqualTo("transient");
            assertThat(error.path("attempts").asInt()).isEqualTo(2);
            assertThat(error.path("reason").asText()).contains(
                    "cannot reach Entra ID at " + MAILGATE.entra().authorityHost(), "connection was refused");
            assertThat(MAILGATE.smtp().saslResponses()).isEmpty();
        }
    }

    private static void pem(Path file, Object object) {
        try (Writer out = Files.newBufferedWriter(file); JcaPEMWriter writer = new JcaPEMWriter(out)) {
            writer.writeObject(object instanceof java.security.PrivateKey key
                    ? new JcaPKCS8Generator(key, null) : object);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
