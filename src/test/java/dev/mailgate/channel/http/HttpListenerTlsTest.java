package dev.mailgate.channel.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Map;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;

/** The HTTP API over TLS when {@code mailgate.http.tls.keystore} is set, and then not over cleartext. */
class HttpListenerTlsTest {

    private static final String KEY = "listener-tls-test-key-0123456789";

    @TempDir
    Path dir;

    @Test
    void api_is_served_over_tls_and_not_over_cleartext() throws Exception {
        SelfSignedCertificate cert = SelfSignedCertificate.forLocalhost();
        Path keystore = dir.resolve("listener.p12");
        KeyStore keys = KeyStore.getInstance("PKCS12");
        keys.load(null, null);
        keys.setKeyEntry("listener", cert.keyPair().getPrivate(), "ks-pass".toCharArray(),
                new X509Certificate[] {cert.certificate()});
        try (OutputStream out = Files.newOutputStream(keystore)) {
            keys.store(out, "ks-pass".toCharArray());
        }
        Map<String, String> properties = Gateway.folders(dir);
        properties.put("mailgate.http.api-keys", KEY);
        properties.put("mailgate.http.tls.keystore", keystore.toString());
        properties.put("mailgate.http.tls.keystore-password", "ks-pass");
        String port = properties.get("mailgate.http.port");
        try (Gateway gateway = Gateway.start(dir, properties)) {
            HttpResponse<String> overTls = client(cert).send(request("https", port),
                    HttpResponse.BodyHandlers.ofString());
            Throwable cleartext = catchThrowable(() -> {
                HttpResponse<String> r = HttpClient.newHttpClient().send(request("http", port),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    throw new AssertionError("answered over cleartext");
                }
            });

            assertThat(overTls.statusCode()).isEqualTo(200);
            assertThat(overTls.body()).contains("openapi");
            assertThat(overTls.sslSession()).hasValueSatisfying(
                    session -> assertThat(session.getProtocol()).isIn("TLSv1.3", "TLSv1.2"));
            assertThat(cleartext).isNotInstanceOf(AssertionError.class);
        }
    }

    private static HttpRequest request(String scheme, String port) {
        return HttpRequest.newBuilder(URI.create(scheme + "://localhost:" + port + "/api/v1/openapi.yaml"))
                .header("X-API-Key", KEY).GET().build();
    }

    private static HttpClient client(SelfSignedCertificate cert) throws Exception {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(cert.trustStore());
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(context).build();
    }
}
