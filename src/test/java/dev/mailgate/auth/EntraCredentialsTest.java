package dev.mailgate.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.OutputStream;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;

import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * Every supported client credential gets a token from a real HTTPS token endpoint through MSAL4J, and every
 * way Entra ID says no ends as a one-line error that says what to fix.
 */
class EntraCredentialsTest {

    private static final String HELLO = """
            {"to": "alice@example.com", "subject": "Hello", "text": "Hi"}
            """;

    @TempDir
    Path dir;

    private final SelfSignedCertificate tls = SelfSignedCertificate.forLocalhost();
    /** The app's own certificate, registered with the token endpoint (RSA, as Entra requires). */
    private final SelfSignedCertificate appCertificate = SelfSignedCertificate.create("mailgate-app", List.of(),
            List.of());
    private TestEntra entra;
    private TestSmtpServer smtp;
    private Gateway gateway;

    @AfterEach
    void stop() {
        if (gateway != null) {
            gateway.close();
        }
        if (smtp != null) {
            smtp.close();
        }
        if (entra != null) {
            entra.close();
        }
    }

    /** Starts servers and the gateway with the secret replaced by {@code credential}. */
    private Gateway start(X509Certificate registered, Map<String, String> credential) {
        entra = new TestEntra(tls, registered);
        smtp = TestSmtpServer.withStartTls(tls.serverContext(), entra.tokens());
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), tls);
        properties.remove("mailgate.entra.client-secret");
        properties.putAll(credential);
        gateway = Gateway.start(dir, properties);
        return gateway;
    }

    private void sendsOne() {
        gateway.drop("hello.json", HELLO);
        gateway.awaitSent("hello.json");
        assertThat(smtp.received()).hasSize(1);
        assertThat(entra.requests()).isEqualTo(1);
    }

    @Test
    void certificate_from_pem_key_and_certificate_files_gets_a_token() throws Exception {
        Path cert = dir.resolve("app.crt");
        Path key = dir.resolve("app.key");
        pem(cert, appCertificate.certificate());
        pem(key, appCertificate.keyPair().getPrivate());
        start(appCertificate.certificate(), Map.of("mailgate.entra.certificate-file", cert.toString(),
                "mailgate.entra.private-key-file", key.toString()));

        sendsOne();
    }

    @Test
    void certificate_from_an_encrypted_pem_key_with_its_password_gets_a_token() throws Exception {
        Path cert = dir.resolve("app.crt");
        Path key = dir.resolve("app-encrypted.key");
        pem(cert, appCertificate.certificate());
        try (Writer out = Files.newBufferedWriter(key); JcaPEMWriter writer = new JcaPEMWriter(out)) {
            writer.writeObject(new JcaPKCS8Generator(appCertificate.keyPair().getPrivate(),
                    new JceOpenSSLPKCS8EncryptorBuilder(JcaPKCS8Generator.AES_256_CBC)
                            .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider())
                            .setPassword("key-pass".toCharArray()).build()));
        }
        start(appCertificate.certificate(), Map.of("mailgate.entra.certificate-file", cert.toString(),
                "mailgate.entra.private-key-file", key.toString(),
                "mailgate.entra.private-key-password", "key-pass"));

        sendsOne();
    }

    @Test
    void certificate_from_a_pkcs12_file_gets_a_token() throws Exception {
        Path p12 = dir.resolve("app.p12");
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("app", appCertificate.keyPair().getPrivate(), "p12-pass".toCharArray(),
                new X509Certificate[] {appCertificate.certificate()});
        try (OutputStream out = Files.newOutputStream(p12)) {
            store.store(out, "p12-pass".toCharArray());
        }
        start(appCertificate.certificate(), Map.of("mailgate.entra.pkcs12-file", p12.toString(),
                "mailgate.entra.pkcs12-password", "p12-pass"));

        sendsOne();
    }

    @Test
    void client_secret_from_a_file_gets_a_token() throws Exception {
        Path secret = Files.writeString(dir.resolve("secret.txt"), TestEntra.SECRET + "\n");
        start(null, Map.of("mailgate.entra.client-secret-file", secret.toString()));

        sendsOne();
    }

    @Test
    void certificate_not_registered_with_the_app_is_explained() throws Exception {
        Path cert = dir.resolve("app.crt");
        Path key = dir.resolve("app.key");
        SelfSignedCertificate other = SelfSignedCertificate.create("someone-else", List.of(), List.of());
        pem(cert, other.certificate());
        pem(key, other.keyPair().getPrivate());
        start(appCertificate.certificate(), Map.of("mailgate.entra.certificate-file", cert.toString(),
                "mailgate.entra.private-key-file", key.toString()));
        gateway.drop("hello.json", HELLO);

        Journal.Entry held = gateway.awaitHeld(Gateway.SENDER);

        assertThat(held.failureReason()).contains("AADSTS700027", "upload its public part");
    }

    @Test
    void wrong_client_secret_is_explained_without_showing_it() {
        start(null, Map.of("mailgate.entra.client-secret", "wrong-secret-value-123"));
        gateway.drop("hello.json", HELLO);

        Journal.Entry held = gateway.awaitHeld(Gateway.SENDER);

        assertThat(held.failureReason())
                .contains("AADSTS7000215", "the secret's Value (not its Secret ID)", "MAILGATE_ENTRA_CLIENT_SECRET")
                .doesNotContain("wrong-secret-value-123").doesNotContain("Trace ID");
        assertThat(held.attempts()).isEqualTo(1);
        assertThat(gateway.queued("hello.json")).exists();
        assertThat(smtp.saslResponses()).isEmpty();
    }

    @Test
    void unknown_client_id_is_explained() {
        start(null, Map.of("mailgate.entra.client-secret", TestEntra.SECRET,
                "mailgate.entra.client-id", "99999999-0000-4000-8000-000000000000"));
        gateway.drop("hello.json", HELLO);

        Journal.Entry held = gateway.awaitHeld(Gateway.SENDER);

        assertThat(held.failureReason()).contains("AADSTS700016",
                "no application with client id '99999999-0000-4000-8000-000000000000'", "mailgate.entra.client-id");
    }

    @Test
    void unknown_tenant_is_explained() {
        start(null, Map.of("mailgate.entra.client-secret", TestEntra.SECRET,
                "mailgate.entra.tenant-id", "contoso-typo.onmicrosoft.com"));
        gateway.drop("hello.json", HELLO);

        Journal.Entry held = gateway.awaitHeld(Gateway.SENDER);

        assertThat(held.failureReason()).contains("AADSTS90002",
                "tenant 'contoso-typo.onmicrosoft.com' does not exist", "mailgate.entra.tenant-id");
    }

    @Test
    void valid_token_keeps_being_used_while_a_refresh_fails_because_entra_is_unreachable() throws Exception {
        // tokens live 3599 s; margin + ahead = 3596 s, so a token enters the refresh window about 3 s after issue
        start(null, Map.of("mailgate.entra.client-secret", TestEntra.SECRET,
                "mailgate.token.refresh-margin", "1m", "mailgate.token.refresh-ahead", "3536s",
                "mailgate.token.failure-backoff", "0s"));
        gateway.drop("first.json", HELLO);
        gateway.awaitSent("first.json");
        entra.close();
        Thread.sleep(4500);

        gateway.drop("second.json", HELLO);
        gateway.awaitSent("second.json");

        TokenCache tokens = gateway.context().getRegistry()
                .lookupByNameAndType("xoauth2", XOAuth2Authenticator.class).tokens();
        org.awaitility.Awaitility.await().until(() -> tokens.failureCount() >= 1);
        assertThat(tokens.lastFailure()).hasValueSatisfying(
                e -> assertThat(e.getMessage()).contains("cannot reach Entra ID"));
        assertThat(smtp.received()).hasSize(2);
        // the first token throughout (on the kept connection, or on a new one authenticated with it)
        assertThat(smtp.saslResponses()).isNotEmpty().containsOnly(smtp.saslResponses().get(0));
    }

    @Test
    void unreachable_entra_without_a_token_is_retried_then_reported_as_transient() {
        start(null, Map.of("mailgate.entra.client-secret", TestEntra.SECRET, "mailgate.delivery.max-attempts", "2",
                "mailgate.token.failure-backoff", "0s"));
        entra.close();
        gateway.drop("hello.json", HELLO);

        JsonNode error = gateway.awaitFailed("hello.json");

        assertThat(error.path("category").asText()).isEqualTo("transient");
        assertThat(error.path("attempts").asInt()).isEqualTo(2);
        assertThat(error.path("reason").asText()).contains("cannot reach Entra ID at " + entra.authorityHost(),
                "connection was refused");
        assertThat(smtp.saslResponses()).isEmpty();
    }

    private static void pem(Path file, Object object) throws Exception {
        try (Writer out = Files.newBufferedWriter(file); JcaPEMWriter writer = new JcaPEMWriter(out)) {
            writer.writeObject(object instanceof java.security.PrivateKey key
                    ? new JcaPKCS8Generator(key, null) : object);
        }
    }
}
