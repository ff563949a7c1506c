package dev.mailgate.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** An HTTP client of the gateway's API, as an integration would call it. */
public final class Http {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;

    public Http(int port) {
        this.base = "http://127.0.0.1:" + port;
    }

    public HttpResponse<String> send(String method, String path, String contentType, byte[] body,
            Map<String, String> headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        headers.forEach(request::header);
        try {
            return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public HttpResponse<String> postJson(String key, String json) {
        return send("POST", "/api/v1/messages", "application/json", json.getBytes(StandardCharsets.UTF_8),
                key == null ? Map.of() : Map.of("X-API-Key", key));
    }

    public HttpResponse<String> get(String key, String path) {
        return send("GET", path, null, null, key == null ? Map.of() : Map.of("X-API-Key", key));
    }

    /** A multipart/form-data POST: {@code request} as a form field, then one part per file. */
    public HttpResponse<String> postMultipart(String key, String requestJson, Map<String, byte[]> files) {
        String boundary = "----mailgate" + UUID.randomUUID();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        write(out, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"request\"\r\n"
                + "Content-Type: application/json\r\n\r\n" + requestJson + "\r\n");
        int n = 0;
        for (var file : files.entrySet()) {
            write(out, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file" + (n++) + "\"; filename=\""
                    + file.getKey() + "\"\r\nContent-Type: application/octet-stream\r\n\r\n");
            out.writeBytes(file.getValue());
            write(out, "\r\n");
        }
        write(out, "--" + boundary + "--\r\n");
        return send("POST", "/api/v1/messages", "multipart/form-data; boundary=" + boundary, out.toByteArray(),
                Map.of("X-API-Key", key));
    }

    /** Every file under the one field name {@code file}, as {@code curl -F file=@a -F file=@b} sends them. */
    public HttpResponse<String> postMultipartSameField(String key, String requestJson, Map<String, byte[]> files) {
        String boundary = "----mailgate" + UUID.randomUUID();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        write(out, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n" + requestJson
                + "\r\n");
        for (var file : files.entrySet()) {
            write(out, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
                    + file.getKey() + "\"\r\nContent-Type: application/octet-stream\r\n\r\n");
            out.writeBytes(file.getValue());
            write(out, "\r\n");
        }
        write(out, "--" + boundary + "--\r\n");
        return send("POST", "/api/v1/messages", "multipart/form-data; boundary=" + boundary, out.toByteArray(),
                Map.of("X-API-Key", key));
    }

    /** A multipart form with file parts only, sent to {@code path} with extra headers. */
    public HttpResponse<String> postMultipartWithoutRequest(String key, Map<String, byte[]> files, String path,
            Map<String, String> extraHeaders) {
        String boundary = "----mailgate" + UUID.randomUUID();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int n = 0;
        for (var file : files.entrySet()) {
            write(out, "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file" + (n++) + "\"; filename=\""
                    + file.getKey() + "\"\r\nContent-Type: application/octet-stream\r\n\r\n");
            out.writeBytes(file.getValue());
            write(out, "\r\n");
        }
        write(out, "--" + boundary + "--\r\n");
        Map<String, String> headers = new LinkedHashMap<>(extraHeaders);
        headers.put("X-API-Key", key);
        return send("POST", path, "multipart/form-data; boundary=" + boundary, out.toByteArray(), headers);
    }

    public static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new IllegalStateException("not JSON: " + response.body(), e);
        }
    }

    public static Map<String, String> headers(String... pairs) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            map.put(pairs[i], pairs[i + 1]);
        }
        return map;
    }

    private static void write(ByteArrayOutputStream out, String text) {
        out.writeBytes(text.getBytes(StandardCharsets.UTF_8));
    }
}
