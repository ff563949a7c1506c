package dev.mailgate.channel.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

import jakarta.mail.BodyPart;
import jakarta.mail.Multipart;
import jakarta.mail.internet.MimeMessage;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.mailgate.outcome.Journal;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestSmtpServer;

/**
 * The HTTP API over real HTTP against the real gateway (Vert.x server, embedded broker, journal) and a real SMTP
 * server, one gateway for the class.
 */
class HttpApiTest {

    private static final String KEY = "test-api-key-0123456789abcdef";
    private static final String HELLO = "{\"to\": \"alice@example.com\", \"subject\": \"Hello\", \"text\": \"Hi\"}";

    @TempDir
    static Path dir;

    private static final SelfSignedCertificate TLS = SelfSignedCertificate.forLocalhost();
    private static TestEntra entra;
    private static TestSmtpServer smtp;
    private static Gateway gateway;
    private static Http http;

    @BeforeAll
    static void start() {
        entra = new TestEntra(TLS, null);
        smtp = TestSmtpServer.withStartTls(TLS.serverContext(), entra.tokens());
        Map<String, String> properties = Gateway.realTenant(dir, entra, smtp.port(), TLS);
        properties.put("mailgate.http.api-keys", KEY + ", second-key-0123456789abcdef");
        properties.put("mailgate.http.max-body-size", "1MB");
        gateway = Gateway.start(dir, properties);
        http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));
    }

    @AfterAll
    static void stop() {
        gateway.close();
        smtp.close();
        entra.close();
    }

    private static TestSmtpServer.Received receivedWithId(String id) {
        Awaitility.await().atMost(Duration.ofSeconds(30))
                .until(() -> smtp.received().stream().anyMatch(r -> r.text().contains("X-Mailgate-Id: " + id)));
        return smtp.received().stream().filter(r -> r.text().contains("X-Mailgate-Id: " + id)).findFirst()
                .orElseThrow();
    }

    @Test
    void json_request_is_accepted_with_its_id_and_location_then_delivered_and_its_state_readable() {
        HttpResponse<String> response = http.postJson(KEY, HELLO);

        assertThat(response.statusCode()).isEqualTo(202);
        JsonNode accepted = Http.json(response);
        String id = accepted.path("id").asText();
        assertThat(accepted.path("state").asText()).isEqualTo("queued");
        assertThat(response.headers().firstValue("Location")).contains("/api/v1/messages/" + id);
        TestSmtpServer.Received received = receivedWithId(id);
        assertThat(received.recipients()).containsExactly("alice@example.com");
        gateway.awaitState(id, Journal.State.SENT);

        JsonNode state = Http.json(http.get(KEY, "/api/v1/messages/" + id));
        assertThat(state.path("state").asText()).isEqualTo("sent");
        assertThat(state.path("channel").asText()).isEqualTo("http");
        assertThat(state.path("messageId").asText()).isEqualTo("<" + id + "@contoso.test>");
        assertThat(state.path("serverReply").asText()).startsWith("250 2.0.0 OK");
        assertThat(state.path("recipients").asInt()).isEqualTo(1);
        assertThat(state.path("history")).extracting(h -> h.path("state").asText())
                .containsExactly("received", "queued", "sending", "sent");
        assertThat(state.toString()).doesNotContain("Hi\"", "Hello\"");
    }

    @Test
    void multipart_request_attaches_its_file_parts_and_can_name_one_as_an_inline_image() throws Exception {
        byte[] pdf = "%PDF-1.4 fake invoice".getBytes(StandardCharsets.UTF_8);
        byte[] logo = new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3};
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("invoice.pdf", pdf);
        files.put("logo.png", logo);

        HttpResponse<String> response = http.postMultipart(KEY, """
                {"to": "bob@example.com", "subject": "Invoice", "html": "<p>Attached</p><img src=\\"cid:logo\\">",
                 "attachments": [{"path": "logo.png", "contentId": "logo"}]}
                """, files);

        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        String id = Http.json(response).path("id").asText();
        MimeMessage mail = receivedWithId(id).message();
        Multipart mixed = (Multipart) mail.getContent();
        Multipart related = (Multipart) mixed.getBodyPart(0).getContent();
        BodyPart image = related.getBodyPart(1);
        assertThat(image.getHeader("Content-ID")[0]).isEqualTo("<logo>");
        assertThat(image.getInputStream().readAllBytes()).isEqualTo(logo);
        BodyPart attachment = mixed.getBodyPart(1);
        assertThat(attachment.getFileName()).isEqualTo("invoice.pdf");
        assertThat(attachment.isMimeType("application/pdf")).isTrue();
        assertThat(attachment.getInputStream().readAllBytes()).isEqualTo(pdf);
        gateway.awaitState(id, Journal.State.SENT);
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> !Files.exists(dir.resolve("data/uploads").resolve(id)));
    }

    @Test
    void base64_attachment_in_json_is_delivered() throws Exception {
        byte[] csv = "a,b\n1,2\n".getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> response = http.postJson(KEY, "{\"to\": \"c@example.com\", \"text\": \"x\", "
                + "\"attachments\": [{\"filename\": \"data.csv\", \"content\": \""
                + Base64.getEncoder().encodeToString(csv) + "\"}]}");

        String id = Http.json(response).path("id").asText();
        BodyPart attachment = ((Multipart) receivedWithId(id).message().getContent()).getBodyPart(1);
        assertThat(attachment.getFileName()).isEqualTo("data.csv");
        assertThat(attachment.getInputStream().readAllBytes()).isEqualTo(csv);
    }

    @Test
    void invalid_request_gets_400_listing_every_problem_and_nothing_is_queued() {
        int before = smtp.received().size();

        HttpResponse<String> response = http.postJson(KEY, "{\"to\": \"bad@\", \"colour\": 1, \"cc\": 5}");

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(response.headers().firstValue("Content-Type")).contains("application/problem+json");
        JsonNode problem = Http.json(response);
        assertThat(problem.path("status").asInt()).isEqualTo(400);
        assertThat(problem.path("errors")).extracting(e -> e.path("field").asText())
                .contains("colour", "cc", "to[0]");
        assertThat(response.body()).doesNotContain("Exception", "at dev.", "/tmp", dir.toString());
        assertThat(smtp.received()).hasSize(before);
    }

    @Test
    void path_attachment_over_http_names_the_fix_without_revealing_server_paths() {
        HttpResponse<String> response = http.postJson(KEY, "{\"to\": \"a@example.com\", \"text\": \"x\", "
                + "\"attachments\": [{\"path\": \"../../etc/passwd\"}]}");

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(Http.json(response).path("errors").get(0).path("field").asText()).isEqualTo("attachments[0].path");
        assertThat(response.body()).contains("file parts").doesNotContain(dir.toString(), "uploads");
    }

    @Test
    void invalid_json_gets_400_with_its_position() {
        HttpResponse<String> response = http.postJson(KEY, "{\"to\": ");

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(Http.json(response).path("errors").get(0).path("message").asText()).contains("not valid JSON");
    }

    @Test
    void missing_or_wrong_api_key_gets_401_on_every_route() {
        HttpResponse<String> none = http.postJson(null, HELLO);
        HttpResponse<String> wrong = http.send("POST", "/api/v1/messages", "application/json",
                HELLO.getBytes(StandardCharsets.UTF_8), Map.of("X-API-Key", "wrong-key-0123456789abcdef"));
        HttpResponse<String> status = http.get(null, "/api/v1/messages/00000000-0000-0000-0000-000000000000");
        HttpResponse<String> openapi = http.get(null, "/api/v1/openapi.yaml");

        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(status.statusCode()).isEqualTo(401);
        assertThat(openapi.statusCode()).isEqualTo(401);
        assertThat(Http.json(wrong).path("detail").asText()).isEqualTo("the API key is not valid");
    }

    @Test
    void second_configured_key_and_bearer_form_are_accepted() {
        HttpResponse<String> response = http.send("POST", "/api/v1/messages", "application/json",
                HELLO.getBytes(StandardCharsets.UTF_8), Map.of("Authorization", "Bearer second-key-0123456789abcdef"));

        assertThat(response.statusCode()).isEqualTo(202);
    }

    @Test
    void wrong_method_gets_405_and_unknown_path_404() {
        assertThat(http.send("DELETE", "/api/v1/messages", null, null, Map.of("X-API-Key", KEY)).statusCode())
                .isEqualTo(405);
        assertThat(http.send("PUT", "/api/v1/messages/x", "application/json", new byte[0],
                Map.of("X-API-Key", KEY)).statusCode()).isEqualTo(405);
        assertThat(http.get(KEY, "/api/v2/messages").statusCode()).isEqualTo(404);
    }

    @Test
    void unknown_id_gets_404_problem() {
        HttpResponse<String> response = http.get(KEY, "/api/v1/messages/4b8c1f0e-0000-4000-8000-000000000000");

        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(Http.json(response).path("type").asText()).isEqualTo("urn:mailgate:problem:not-found");
    }

    @Test
    void body_over_the_limit_gets_413() {
        String big = "{\"to\": \"a@example.com\", \"text\": \"" + "x".repeat(2 * 1024 * 1024) + "\"}";

        assertThat(http.postJson(KEY, big).statusCode()).isEqualTo(413);
    }

    @Test
    void other_content_types_get_415() {
        HttpResponse<String> response = http.send("POST", "/api/v1/messages", "text/plain",
                HELLO.getBytes(StandardCharsets.UTF_8), Map.of("X-API-Key", KEY));

        assertThat(response.statusCode()).isEqualTo(415);
        assertThat(Http.json(response).path("detail").asText()).contains("application/json");
    }

    @Test
    void repeated_idempotency_key_returns_the_original_id_and_sends_once() {
        String request = "{\"to\": \"once@example.com\", \"subject\": \"Once\", \"text\": \"x\", "
                + "\"idempotencyKey\": \"invoice-2026-0042\"}";

        HttpResponse<String> first = http.postJson(KEY, request);
        HttpResponse<String> second = http.postJson(KEY, request);

        String id = Http.json(first).path("id").asText();
        assertThat(second.statusCode()).isEqualTo(202);
        assertThat(Http.json(second).path("id").asText()).isEqualTo(id);
        assertThat(second.headers().firstValue("Idempotent-Replayed")).contains("true");
        gateway.awaitState(id, Journal.State.SENT);
        assertThat(smtp.received().stream().filter(r -> r.recipients().contains("once@example.com"))).hasSize(1);
    }

    @Test
    void smuggled_http_headers_reach_neither_the_mail_nor_the_smtp_session_nor_camel_nor_the_response() {
        HttpResponse<String> response = http.send("POST", "/api/v1/messages", "application/json",
                HELLO.getBytes(StandardCharsets.UTF_8), Http.headers("X-API-Key", KEY,
                        "To", "attacker@evil.test", "Bcc", "attacker@evil.test", "From", "ceo@contoso.test",
                        "Subject", "Wire the money", "CamelFileName", "../../etc/passwd",
                        "CamelHttpUri", "http://evil.test/", "mail.smtp.host", "evil.test",
                        "mail.smtp.starttls.enable", "false"));

        String id = Http.json(response).path("id").asText();
        TestSmtpServer.Received received = receivedWithId(id);
        assertThat(received.recipients()).containsExactly("alice@example.com");
        assertThat(received.mailFrom()).isEqualTo(Gateway.SENDER);
        assertThat(received.text()).doesNotContain("evil.test", "ceo@contoso.test", "Wire the money", "passwd");
        assertThat(response.headers().map().keySet()).noneMatch(h -> h.equalsIgnoreCase("X-API-Key")
                || h.equalsIgnoreCase("To") || h.equalsIgnoreCase("mail.smtp.host"));
    }

    @Test
    void openapi_description_is_served() {
        HttpResponse<String> response = http.get(KEY, "/api/v1/openapi.yaml");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).startsWith("openapi: 3.0.3").contains("/api/v1/messages/{id}");
    }

    @Test
    void two_file_parts_under_one_field_name_are_refused_instead_of_one_being_dropped() {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("a.txt", "A".getBytes(StandardCharsets.UTF_8));
        files.put("b.txt", "B".getBytes(StandardCharsets.UTF_8));

        HttpResponse<String> response = http.postMultipartSameField(KEY, "{\"to\": \"a@example.com\", \"text\": \"x\"}",
                files);

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(response.body()).contains("give each file part its own name");
    }

    @Test
    void the_request_json_is_taken_only_from_the_body_never_from_a_header_or_the_query() {
        String json = "{\"to\": \"a@example.com\", \"text\": \"x\"}";
        Map<String, byte[]> files = Map.of("only.txt", "x".getBytes(StandardCharsets.UTF_8));

        HttpResponse<String> response = http.postMultipartWithoutRequest(KEY, files,
                "/api/v1/messages?request=" + java.net.URLEncoder.encode(json, StandardCharsets.UTF_8),
                Map.of("request", json));

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(Http.json(response).path("errors").get(0).path("field").asText()).isEqualTo("request");
    }

    @Test
    void an_idempotency_key_the_journal_cannot_hold_is_refused_with_the_field_named() {
        HttpResponse<String> tooLong = http.postJson(KEY, "{\"to\": \"a@example.com\", \"text\": \"x\", "
                + "\"idempotencyKey\": \"" + "k".repeat(201) + "\"}");
        HttpResponse<String> empty = http.postJson(KEY, "{\"to\": \"a@example.com\", \"text\": \"x\", "
                + "\"idempotencyKey\": \"\"}");

        assertThat(tooLong.statusCode()).isEqualTo(400);
        assertThat(Http.json(tooLong).path("errors").get(0).path("field").asText()).isEqualTo("idempotencyKey");
        assertThat(empty.statusCode()).isEqualTo(400);
    }

    @Test
    void error_answers_do_not_echo_request_headers_either() {
        HttpResponse<String> response = http.send("GET", "/api/v1/messages/4b8c1f0e-0000-4000-8000-000000000000",
                null, null, Http.headers("X-API-Key", KEY, "X-Secret-Probe", "echo-me", "id", "x"));

        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(response.headers().map().keySet()).noneMatch(h -> h.equalsIgnoreCase("X-API-Key")
                || h.equalsIgnoreCase("X-Secret-Probe"));
        assertThat(response.body()).doesNotContain("echo-me");
    }

    @Test
    void uppercase_id_finds_the_same_message() {
        String id = Http.json(http.postJson(KEY, HELLO)).path("id").asText();
        gateway.awaitState(id, Journal.State.SENT);

        assertThat(http.get(KEY, "/api/v1/messages/" + id.toUpperCase(java.util.Locale.ROOT)).statusCode())
                .isEqualTo(200);
    }
}
