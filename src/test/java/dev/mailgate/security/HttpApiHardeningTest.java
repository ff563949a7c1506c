package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;

import dev.mailgate.app.MailgateConfiguration;
import dev.mailgate.config.Settings;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * The HTTP API against an attacker on real sockets, one gateway for the class, started without
 * {@code mailgate.http.host} (the default bind address): authentication on every route, the listener's address,
 * the body limit, and answers that give nothing away (no stack trace, exception name or server path) whatever is
 * thrown at the server. {@code HttpApiTest} has the functional side and the first 401/413/415 cases.
 */
class HttpApiHardeningTest {

    private static final String KEY = "hardening-test-api-key-0123456789";
    private static final String HELLO = "{\"to\": \"alice@example.com\", \"subject\": \"Hello\", \"text\": \"Hi\"}";
    private static final String SOME_ID = "/api/v1/messages/4b8c1f0e-0000-4000-8000-000000000000";

    @TempDir
    static Path dir;

    private static final SelfSignedCertificate TLS = SelfSignedCertificate.forLocalhost();
    private static final ListAppender<ILoggingEvent> LOG = new ListAppender<>();
    private static TestEntra entra;
    private static TestSmtpServer smtp;
    private static Gateway gateway;
    private static Http http;
    private static int port;

    @BeforeAll
    static void start() {
        LOG.start();
        ((Logger) LoggerFactory.getLogger(MailgateConfiguration.class)).addAppender(LOG);
        entra = new TestEntra(TLS, null);
        smtp = TestSmtpServer.withStartTls(TLS.serverContext(), entra.tokens());
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), TLS);
        properties.put("mailgate.http.api-keys", KEY);
        properties.put("mailgate.http.max-body-size", "1MB");
        properties.put("mailgate.http.request-timeout", "2s");
        assertThat(properties).doesNotContainKey("mailgate.http.host");
        gateway = Gateway.start(dir, properties);
        port = Integer.parseInt(properties.get("mailgate.http.port"));
        http = new Http(port);
    }

    @AfterAll
    static void stop() {
        ((Logger) LoggerFactory.getLogger(MailgateConfiguration.class)).detachAppender(LOG);
        gateway.close();
        smtp.close();
        entra.close();
    }

    // --- authentication on every route ------------------------------------------------------------------------

    @Test
    void health_without_a_key_gets_401() {
        assertUnauthorized(http.get(null, "/api/v1/health"));
    }

    @Test
    void message_state_with_a_wrong_key_gets_401() {
        assertUnauthorized(http.get("wrong-key-0123456789abcdef", SOME_ID));
    }

    @Test
    void health_with_a_wrong_key_gets_401() {
        assertUnauthorized(http.get("wrong-key-0123456789abcdef", "/api/v1/health"));
    }

    @Test
    void openapi_with_a_wrong_key_gets_401() {
        assertUnauthorized(http.get("wrong-key-0123456789abcdef", "/api/v1/openapi.yaml"));
    }

    @Test
    void wrong_bearer_token_gets_401_on_every_route() {
        Map<String, String> bearer = Map.of("Authorization", "Bearer wrong-key-0123456789abcdef");

        assertUnauthorized(http.send("POST", "/api/v1/messages", "application/json", bytes(HELLO), bearer));
        assertUnauthorized(http.send("GET", SOME_ID, null, null, bearer));
        assertUnauthorized(http.send("GET", "/api/v1/health", null, null, bearer));
        assertUnauthorized(http.send("GET", "/api/v1/openapi.yaml", null, null, bearer));
    }

    @Test
    void prefix_or_extension_of_the_key_gets_401() {
        assertUnauthorized(http.postJson(KEY.substring(0, KEY.length() - 1), HELLO));
        assertUnauthorized(http.postJson(KEY + "x", HELLO));
        assertUnauthorized(http.postJson(KEY.toUpperCase(java.util.Locale.ROOT), HELLO));
    }

    @Test
    void empty_key_header_and_bare_bearer_get_401() {
        assertUnauthorized(http.send("POST", "/api/v1/messages", "application/json", bytes(HELLO),
                Map.of("X-API-Key", "")));
        assertUnauthorized(http.send("POST", "/api/v1/messages", "application/json", bytes(HELLO),
                Map.of("Authorization", "Bearer ")));
        assertUnauthorized(http.send("POST", "/api/v1/messages", "application/json", bytes(HELLO),
                Map.of("Authorization", "Basic " + java.util.Base64.getEncoder().encodeToString(bytes("x:" + KEY)))));
    }

    @Test
    void key_in_the_query_string_is_not_accepted() {
        assertUnauthorized(http.send("POST", "/api/v1/messages?api_key=" + KEY + "&X-API-Key=" + KEY,
                "application/json", bytes(HELLO), Map.of()));
        assertUnauthorized(http.get(null, "/api/v1/health?access_token=" + KEY));
    }

    @Test
    void unknown_route_and_wrong_method_without_a_key_get_401_revealing_no_route() {
        assertUnauthorized(http.get(null, "/api/v2/messages"));
        assertUnauthorized(http.get(null, "/"));
        assertUnauthorized(http.send("DELETE", "/api/v1/messages", null, null, Map.of()));
        assertUnauthorized(http.send("PUT", SOME_ID, "application/json", bytes("{}"), Map.of()));
    }

    @Test
    void unauthenticated_multipart_upload_leaves_no_file_behind() throws Exception {
        byte[] file = new byte[200 * 1024];
        List<Path> uploadsBefore = filesUnder(dir.resolve("data/http-uploads"));
        List<Path> requestsBefore = filesUnder(dir.resolve("data/uploads"));
        HttpResponse<String> response = http.send("POST", "/api/v1/messages", "multipart/form-data; boundary=b",
                multipart("b", "{\"to\": \"a@example.com\", \"text\": \"x\"}", "upload.bin", file), Map.of());

        assertUnauthorized(response);
        assertThat(filesUnder(dir.resolve("data/http-uploads"))).isEqualTo(uploadsBefore);
        assertThat(filesUnder(dir.resolve("data/uploads"))).isEqualTo(requestsBefore);
    }

    // --- where the listener is ---------------------------------------------------------------------------------

    @Test
    void listener_binds_loopback_by_default() {
        assertThat(Settings.read(key -> Optional.empty()).http().host()).isEqualTo("127.0.0.1");
        assertThat(LOG.list).extracting(ILoggingEvent::getFormattedMessage)
                .anyMatch(m -> m.startsWith("HTTP API on http://127.0.0.1:" + port + "/"));
    }

    @Test
    void listener_is_not_reachable_on_a_non_loopback_address() throws Exception {
        List<InetAddress> addresses = nonLoopbackAddresses();
        // the loopback listener itself answers, so a refusal below is about the address, not a dead server
        assertThat(http.get(null, "/api/v1/health").statusCode()).isEqualTo(401);

        for (InetAddress address : addresses) {
            try (Socket socket = new Socket()) {
                Throwable thrown = catchThrowable(() -> socket.connect(new InetSocketAddress(address, port), 2000));
                assertThat(thrown).as("connecting to %s:%d", address.getHostAddress(), port)
                        .isInstanceOfAny(ConnectException.class, SocketTimeoutException.class, SocketException.class);
            }
        }
        if (addresses.isEmpty()) {
            // no other address to try from here: the bind address the gateway reported must be the loopback one
            assertThat(LOG.list).extracting(ILoggingEvent::getFormattedMessage)
                    .anyMatch(m -> m.startsWith("HTTP API on http://127.0.0.1:" + port + "/"));
        }
    }

    // --- the body limit (1 MB here) --------------------------------------------------------------------------

    @Test
    void multipart_upload_over_the_limit_gets_413_and_leaves_no_file_behind() throws Exception {
        byte[] file = new byte[2 * 1024 * 1024];
        List<Path> uploadsBefore = filesUnder(dir.resolve("data/http-uploads"));
        List<Path> requestsBefore = filesUnder(dir.resolve("data/uploads"));
        HttpResponse<String> response = http.send("POST", "/api/v1/messages", "multipart/form-data; boundary=b",
                multipart("b", HELLO, "big.bin", file), Map.of("X-API-Key", KEY));

        assertThat(response.statusCode()).isEqualTo(413);
        assertClean(response);
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> filesUnder(dir.resolve("data/http-uploads")).equals(uploadsBefore));
        assertThat(filesUnder(dir.resolve("data/uploads"))).isEqualTo(requestsBefore);
    }

    @Test
    void chunked_body_over_the_limit_without_a_length_gets_413() throws Exception {
        byte[] body = bytes("{\"to\": \"a@example.com\", \"text\": \"" + "x".repeat(2 * 1024 * 1024) + "\"}");
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/messages"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json").header("X-API-Key", KEY)
                // an InputStream publisher has no length: the body goes out chunked
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))).build();

        HttpResponse<String> response;
        try {
            response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            // the server may close the connection while the client is still sending: then nothing was accepted
            assertThat(smtp.received()).noneMatch(r -> r.text().contains("xxxxxxxxxx"));
            return;
        }
        assertThat(response.statusCode()).isEqualTo(413);
        assertClean(response);
    }

    @Test
    void declared_content_length_over_the_limit_gets_413_before_the_body_is_sent() throws Exception {
        String answer = raw("POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY
                + "\r\nContent-Type: application/json\r\nContent-Length: " + (50 * 1024 * 1024) + "\r\n\r\n");

        assertThat(answer).startsWith("HTTP/1.1 413");
        assertClean(answer);
    }

    // --- answers that give nothing away -------------------------------------------------------------------------

    @Test
    void malformed_json_reveals_no_stack_trace_or_server_path() {
        HttpResponse<String> response = http.postJson(KEY, "{\"to\": [\"a@example.com\", \"subject\": }}}");

        assertThat(response.statusCode()).isEqualTo(400);
        assertClean(response);
    }

    @Test
    void deeply_nested_json_reveals_no_stack_trace_or_server_path() {
        HttpResponse<String> response = http.postJson(KEY, "{\"data\": " + "[".repeat(100_000));

        assertThat(response.statusCode()).isEqualTo(400);
        assertClean(response);
    }

    @Test
    void invalid_utf8_in_json_reveals_no_stack_trace_or_server_path() {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(bytes("{\"to\": \"a@example.com\", \"text\": \""));
        body.writeBytes(new byte[] {(byte) 0xC3, (byte) 0x28, (byte) 0xFF});
        body.writeBytes(bytes("\"}"));

        HttpResponse<String> response = http.send("POST", "/api/v1/messages", "application/json",
                body.toByteArray(), Map.of("X-API-Key", KEY));

        assertThat(response.statusCode()).isIn(202, 400);
        assertClean(response);
    }

    @Test
    void huge_header_reveals_no_stack_trace_or_server_path() throws Exception {
        String answer = raw("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY
                + "\r\nX-Filler: " + "a".repeat(64 * 1024) + "\r\nConnection: close\r\n\r\n");

        assertThat(answer).matches("(?s)HTTP/1\\.[01] (4\\d\\d).*|");
        assertClean(answer);
    }

    @Test
    void huge_header_without_a_key_reveals_no_stack_trace_or_server_path() throws Exception {
        String answer = raw("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: " + "a".repeat(64 * 1024)
                + "\r\nConnection: close\r\n\r\n");

        assertThat(answer).matches("(?s)HTTP/1\\.[01] (4\\d\\d).*|");
        assertClean(answer);
    }

    @Test
    void huge_url_reveals_no_stack_trace_or_server_path() throws Exception {
        String answer = raw("GET /api/v1/messages/" + "a".repeat(64 * 1024) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "X-API-Key: " + KEY + "\r\nConnection: close\r\n\r\n");

        assertThat(answer).matches("(?s)HTTP/1\\.[01] (4\\d\\d).*|");
        assertClean(answer);
    }

    @Test
    void unknown_route_reveals_no_stack_trace_or_server_path() {
        HttpResponse<String> response = http.get(KEY, "/api/v1/../../etc/passwd");
        HttpResponse<String> other = http.get(KEY, "/api/v2/messages");

        assertThat(response.statusCode()).isIn(400, 404);
        assertThat(other.statusCode()).isEqualTo(404);
        assertClean(response);
        assertClean(other);
    }

    @Test
    void encoded_traversal_as_message_id_reveals_no_stack_trace_or_server_path() {
        HttpResponse<String> response = http.get(KEY, "/api/v1/messages/..%2F..%2F..%2Fetc%2Fpasswd");
        HttpResponse<String> nul = http.get(KEY, "/api/v1/messages/%00");

        assertThat(response.statusCode()).isIn(400, 404);
        assertThat(response.body()).doesNotContain("root:");
        assertClean(response);
        assertClean(nul);
    }

    @Test
    void wrong_content_type_reveals_no_stack_trace_or_server_path() {
        HttpResponse<String> xml = http.send("POST", "/api/v1/messages", "application/xml", bytes("<a/>"),
                Map.of("X-API-Key", KEY));
        HttpResponse<String> none = http.send("POST", "/api/v1/messages", null, bytes(HELLO),
                Map.of("X-API-Key", KEY));

        assertThat(xml.statusCode()).isEqualTo(415);
        assertThat(none.statusCode()).isIn(400, 415);
        assertClean(xml);
        assertClean(none);
    }

    @Test
    void wrong_method_reveals_no_stack_trace_or_server_path() {
        HttpResponse<String> response = http.send("DELETE", SOME_ID, null, null, Map.of("X-API-Key", KEY));

        assertThat(response.statusCode()).isEqualTo(405);
        assertClean(response);
    }

    @Test
    void multipart_without_a_boundary_reveals_no_stack_trace_or_server_path() {
        HttpResponse<String> response = http.send("POST", "/api/v1/messages", "multipart/form-data",
                bytes("--x\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n" + HELLO + "\r\n--x--\r\n"),
                Map.of("X-API-Key", KEY));

        assertThat(response.statusCode()).isBetween(400, 499);
        assertClean(response);
    }

    @Test
    void truncated_multipart_is_answered_and_leaves_no_file_behind() throws Exception {
        String body = "--x\r\nContent-Disposition: form-data; name=\"file1\"; filename=\"a.txt\"\r\n\r\nunfinished";

        String answer = raw("POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY
                + "\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: " + body.length()
                + "\r\n\r\n" + body);

        assertThat(answer).startsWith("HTTP/1.1 4");
        assertClean(answer);
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> filesUnder(dir.resolve("data/http-uploads")).isEmpty());
    }

    @Test
    void truncated_multipart_without_a_key_gets_401_and_leaves_no_file_behind() throws Exception {
        String body = "--x\r\nContent-Disposition: form-data; name=\"file1\"; filename=\"u.txt\"\r\n\r\nunfinished";
        List<Path> before = filesUnder(dir.resolve("data/http-uploads"));

        String answer = raw("POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: " + body.length()
                + "\r\n\r\n" + body);

        assertThat(answer).startsWith("HTTP/1.1 401");
        assertClean(answer);
        assertThat(filesUnder(dir.resolve("data/http-uploads"))).isEqualTo(before);
    }

    @Test
    void garbage_instead_of_http_reveals_no_stack_trace_or_server_path() throws Exception {
        String answer = raw("\u0016\u0003\u0001\u0000\u00a5\u0001 not http at all \r\n\r\n");

        assertClean(answer);
    }

    // --- media types and multipart edge cases (issue 14, item 16), over raw sockets -------------------------------

    @Test
    void multipart_with_an_empty_boundary_gets_a_400_problem_document() throws Exception {
        String body = "--\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n" + HELLO + "\r\n----\r\n";

        String answer = post("multipart/form-data; boundary=", body);

        assertProblem(answer, 400, "boundary");
    }

    @Test
    void multipart_with_a_5000_character_boundary_gets_a_400_problem_document() throws Exception {
        String boundary = "b".repeat(5_000);
        String body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n" + HELLO
                + "\r\n--" + boundary + "--\r\n";

        String answer = post("multipart/form-data; boundary=" + boundary, body);

        assertProblem(answer, 400, "boundary");
    }

    @Test
    void multipart_with_1000_parts_gets_a_413_problem_document_and_leaves_no_file_behind() throws Exception {
        StringBuilder body = new StringBuilder("--x\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n"
                + HELLO + "\r\n");
        for (int i = 0; i < 1_000; i++) {
            body.append("--x\r\nContent-Disposition: form-data; name=\"file").append(i).append("\"; filename=\"f")
                    .append(i).append(".txt\"\r\nContent-Type: text/plain\r\n\r\npart ").append(i).append("\r\n");
        }
        body.append("--x--\r\n");

        String answer = post("multipart/form-data; boundary=x", body.toString());

        assertProblem(answer, 413, "mailgate.http.max-parts");
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> filesUnder(dir.resolve("data/http-uploads")).isEmpty());
        assertThat(filesUnder(dir.resolve("data/uploads"))).noneMatch(f -> f.getFileName().toString().equals("f9.txt"));
    }

    @Test
    void multipart_form_field_over_8_kb_gets_a_problem_document_naming_the_fix() throws Exception {
        String big = "{\"to\": \"a@example.com\", \"text\": \"" + "x".repeat(9 * 1024) + "\"}";
        String body = "--x\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n" + big + "\r\n--x--\r\n";

        String answer = post("multipart/form-data; boundary=x", body);

        assertProblem(answer, 413, "request=@request.json");
    }

    @Test
    void json_look_alike_media_types_get_415_problem_documents() throws Exception {
        for (String type : List.of("application/jsonx", "application/json-seq", "application/jsonfoo; charset=utf-8",
                "text/json", "multipart/form-datax; boundary=x", "application/json/x")) {
            assertProblem(post(type, HELLO), 415, "application/json");
        }
    }

    @Test
    void json_with_parameters_and_in_any_case_is_accepted() throws Exception {
        for (String type : List.of("application/json; charset=utf-8", "Application/JSON",
                "application/json;charset=UTF-8")) {
            assertThat(post(type, HELLO)).as(type).startsWith("HTTP/1.1 202");
        }
    }

    @Test
    void multipart_content_type_in_mixed_case_is_read_as_multipart() throws Exception {
        String body = "--x\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n{\"to\": \"a@example.com\", "
                + "\"subject\": \"Mixed case\", \"text\": \"x\"}\r\n--x\r\nContent-Disposition: form-data; "
                + "name=\"file1\"; filename=\"mixed.txt\"\r\nContent-Type: text/plain\r\n\r\nmixed case part\r\n"
                + "--x--\r\n";

        String answer = post("Multipart/Form-Data; Boundary=x", body);

        assertThat(answer).startsWith("HTTP/1.1 202");
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> smtp.received().stream()
                .anyMatch(r -> r.text().contains("Subject: Mixed case") && r.text().contains("mixed.txt")));
    }

    @Test
    void body_over_the_limit_gets_a_413_problem_document() throws Exception {
        String answer = raw("POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY
                + "\r\nContent-Type: application/json\r\nContent-Length: " + (50 * 1024 * 1024) + "\r\n\r\n");

        assertProblem(answer, 413, "mailgate.http.max-body-size");
    }

    @Test
    void unknown_path_and_wrong_method_get_problem_documents() throws Exception {
        String unknown = raw("GET /api/v2/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY
                + "\r\nConnection: close\r\n\r\n");
        String method = raw("DELETE " + SOME_ID + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY
                + "\r\nConnection: close\r\n\r\n");

        assertProblem(unknown, 404, "");
        assertProblem(method, 405, "");
    }

    // --- helpers -------------------------------------------------------------------------------------------------

    private static void assertUnauthorized(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(401);
        assertThat(response.headers().firstValue("WWW-Authenticate")).isPresent();
        assertThat(response.body()).doesNotContain(KEY);
        assertClean(response);
    }

    private static void assertClean(HttpResponse<String> response) {
        StringBuilder headers = new StringBuilder();
        response.headers().map().forEach((name, values) -> headers.append(name).append(": ").append(values)
                .append('\n'));
        assertClean(headers + "\n" + response.body());
    }

    /** No stack trace, exception name, or path of this machine in an answer, headers included. */
    private static void assertClean(String answer) {
        List<String> forbidden = new ArrayList<>(List.of("at dev.", "at java.", "at io.", "at org.", "Exception",
                "Caused by", "/tmp/", dir.toString(), dir.resolve("data").toAbsolutePath().toString(), KEY,
                System.getProperty("java.io.tmpdir") + "/", System.getProperty("user.dir")));
        for (String text : forbidden) {
            assertThat(answer).as("an answer of the HTTP API").doesNotContain(text);
        }
    }

    /** Writes {@code request} on a fresh connection and returns everything the server answers until it closes. */
    private static String raw(String request) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            try {
                out.write(request.getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            } catch (IOException e) {
                // the server answered and closed before reading everything: read what it said
            }
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            InputStream in = socket.getInputStream();
            byte[] buffer = new byte[8192];
            try {
                for (int n = in.read(buffer); n != -1; n = in.read(buffer)) {
                    answer.write(buffer, 0, n);
                }
            } catch (SocketTimeoutException | SocketException e) {
                // a kept-alive connection, or a reset after the answer
            }
            return answer.toString(StandardCharsets.ISO_8859_1);
        }
    }

    /** A POST of {@code body} as {@code contentType} with the right key, on a fresh connection, closed after. */
    private static String post(String contentType, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        return raw("POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: " + KEY + "\r\nContent-Type: "
                + contentType + "\r\nContent-Length: " + bytes.length + "\r\nConnection: close\r\n\r\n"
                + new String(bytes, StandardCharsets.ISO_8859_1));
    }

    /** An answer with {@code status} and an {@code application/problem+json} body whose detail names {@code hint}. */
    private static void assertProblem(String answer, int status, String hint) throws IOException {
        assertThat(answer).as(answer).startsWith("HTTP/1.1 " + status + " ");
        int split = answer.indexOf("\r\n\r\n");
        String head = answer.substring(0, split);
        assertThat(head).as(answer).containsIgnoringCase("content-type: application/problem+json");
        String body = answer.substring(split + 4);
        if (head.toLowerCase(java.util.Locale.ROOT).contains("transfer-encoding: chunked")) {
            body = body.substring(body.indexOf("\r\n") + 2, body.lastIndexOf("\r\n0\r\n"));
        }
        var problem = new com.fasterxml.jackson.databind.ObjectMapper().readTree(body);
        assertThat(problem.path("status").asInt()).as(answer).isEqualTo(status);
        assertThat(problem.path("detail").asText()).as(answer).contains(hint);
        assertClean(answer);
    }

    private static byte[] multipart(String boundary, String requestJson, String fileName, byte[] file) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(bytes("--" + boundary + "\r\nContent-Disposition: form-data; name=\"request\"; "
                + "filename=\"request.json\"\r\nContent-Type: application/json\r\n\r\n" + requestJson + "\r\n"));
        out.writeBytes(bytes("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file1\"; filename=\""
                + fileName + "\"\r\nContent-Type: application/octet-stream\r\n\r\n"));
        out.writeBytes(file);
        out.writeBytes(bytes("\r\n--" + boundary + "--\r\n"));
        return out.toByteArray();
    }

    private static List<Path> filesUnder(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            return List.of();
        }
        try (Stream<Path> walk = Files.walk(folder)) {
            return walk.filter(Files::isRegularFile).toList();
        }
    }

    private static List<InetAddress> nonLoopbackAddresses() throws SocketException {
        List<InetAddress> addresses = new ArrayList<>();
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nic.isUp() || nic.isLoopback()) {
                continue;
            }
            for (InetAddress address : Collections.list(nic.getInetAddresses())) {
                if (address instanceof Inet4Address && !address.isLoopbackAddress() && !address.isLinkLocalAddress()) {
                    addresses.add(address);
                }
            }
        }
        return addresses;
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
