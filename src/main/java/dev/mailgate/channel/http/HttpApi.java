package dev.mailgate.channel.http;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Pattern;

import jakarta.activation.DataHandler;

import io.vertx.core.http.HttpServerRequest;

import org.apache.camel.Exchange;
import org.apache.camel.attachment.AttachmentMessage;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.health.HealthCheckHelper;
import org.apache.camel.component.platform.http.vertx.HttpMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.channel.Submission;
import dev.mailgate.channel.Uploads;
import dev.mailgate.outcome.JdbcJournal;
import dev.mailgate.outcome.Journal;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestReader;
import dev.mailgate.request.MailRequestValidator;
import dev.mailgate.request.MailRequestWriter;
import dev.mailgate.text.Text;

/**
 * The HTTP API's Java side. {@code POST /api/v1/messages} reads a MailRequest (JSON, or multipart with a
 * {@code request} part and file parts), validates it, records it, and makes it durable on the queue before it
 * answers {@code 202 Accepted}; {@code GET /api/v1/messages/{id}} answers from the journal. Inbound headers never
 * travel further than this class, and responses carry only the headers set here.
 */
public final class HttpApi {

    /** The bean whose methods answer the HTTP routes ({@code mailgate/mailgate-http.yaml}). */
    public static final String BEAN = "mailgateHttpApi";
    public static final String BASE = "/api/v1/messages";
    private static final String OPEN_API = readOpenApi();
    public static final String LIVENESS = "/health/live";
    public static final String READINESS = "/health/ready";
    /** The paths that need no API key. */
    public static final java.util.Set<String> PROBES = java.util.Set.of(LIVENESS, READINESS);

    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String UPLOADED = "the file parts of this multipart request (send files as parts and name "
            + "them in 'path')";
    private static final Pattern ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private final MailRequestValidator validator;
    private final Journal journal;
    private final Uploads uploads;
    private final Submission submission;

    /** @param uploads the JMS channel's attachment folder: each request's files go into a folder named by its id */
    public HttpApi(MailRequestValidator validator, Journal journal, Uploads uploads, Submission submission) {
        this.validator = validator;
        this.journal = journal;
        this.uploads = uploads;
        this.submission = submission;
    }

    public void submit(Exchange exchange) {
        String id = UUID.randomUUID().toString();
        Path folder = uploads.folder(id);
        ApiKeys.Key caller = ApiKeys.caller(exchange);
        // the key's principal: its idempotency keys are its own, and so is the state of this request
        Journal.Ref ref = new Journal.Ref(id, "http", "http POST " + BASE, caller == null ? "http" : caller.principal());
        try {
            MailRequest request = read(exchange, folder);
            Submission.Accepted accepted = submission.submit(ref, request);
            if (accepted.repeat()) {
                uploads.delete(id);
            } else {
                LOG.info("Accepted HTTP request {} for {} recipient(s); queued on {}", id, request.recipientCount(),
                        submission.queueUri());
            }
            accepted(exchange, accepted.id(), accepted.repeat());
        } catch (Submission.Unavailable e) {
            LOG.error("Could not accept HTTP request {}: {} ({})", id, e.getMessage(),
                    Text.oneLine(String.valueOf(e.getCause())));
            if (!e.keepFiles()) {
                uploads.delete(id);
            }
            unavailable(exchange, e.getMessage());
        } catch (InvalidRequestException e) {
            uploads.delete(id);
            respond(exchange, 400, Problems.CONTENT_TYPE, Problems.body(400, "invalid-request", "Invalid mail request",
                    e.problems().size() + " problem(s); nothing was accepted", e.problems()), Map.of());
        } catch (UnsupportedMediaType e) {
            uploads.delete(id);
            respond(exchange, 415, Problems.CONTENT_TYPE, Problems.of(415, "unsupported-media-type",
                    "Unsupported content type", e.getMessage()), Map.of());
        } catch (RuntimeException | IOException e) {
            LOG.error("HTTP request {} failed inside Mailgate", id, e);
            uploads.delete(id);
            respond(exchange, 500, Problems.CONTENT_TYPE, Problems.of(500, "internal-error", "Internal error",
                    "nothing was accepted; send the request again (the gateway's log has the details under " + id
                            + ")"), Map.of());
        }
    }

    private static void unavailable(Exchange exchange, String why) {
        respond(exchange, 503, Problems.CONTENT_TYPE, Problems.of(503, "unavailable", "The request could not be "
                + "accepted", why + "; nothing was accepted, send the request again"), Map.of("Retry-After", "5"));
    }

    public void status(Exchange exchange) {
        try {
            // the id from the path itself: a header or query parameter named "id" must not stand in for it
            String path = exchange.getIn(HttpMessage.class).getRequest().path();
            String id = path.substring(path.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
            ApiKeys.Key caller = ApiKeys.caller(exchange);
            // another client's request is answered as if there were none: 404, not 403, which would confirm the id
            Optional<Journal.Entry> entry = (ID.matcher(id).matches() ? journal.find(id) : Optional.<Journal.Entry>empty())
                    .filter(e -> caller != null && (caller.admin() || caller.principal().equals(e.principal())));
            if (entry.isEmpty()) {
                respond(exchange, 404, Problems.CONTENT_TYPE, Problems.of(404, "not-found", "No such message",
                        "there is no message with this id that this API key may read"), Map.of());
                return;
            }
            respond(exchange, 200, "application/json", json(entry.get()), Map.of());
        } catch (JdbcJournal.JournalException e) {
            LOG.error("Could not read the journal: {}", e.getMessage());
            unavailable(exchange, "the delivery journal is not available");
        } catch (RuntimeException e) {
            LOG.error("Reading a message's state failed inside Mailgate", e);
            respond(exchange, 500, Problems.CONTENT_TYPE, Problems.of(500, "internal-error", "Internal error",
                    "the gateway's log has the details"), Map.of());
        }
    }

    /**
     * {@code GET /api/v1/health}: every Camel health check (Mailgate's own, such as the held mailboxes, and Camel's
     * routes and consumers), {@code 200} when all are up and {@code 503} when one is down. Each check shows its
     * details (token validity, each mailbox's last success and failure, ...); one that is down also says why.
     */
    public void health(Exchange exchange) {
        ObjectNode body = JSON.createObjectNode();
        body.put("status", "UP");
        ArrayNode checks = body.putArray("checks");
        for (HealthCheck.Result result : HealthCheckHelper.invoke(exchange.getContext(), "full")) {
            ObjectNode check = checks.addObject();
            check.put("id", result.getCheck().getId());
            check.put("status", result.getState().name());
            if (result.getState() != HealthCheck.State.UP) {
                body.put("status", "DOWN");
                result.getMessage().ifPresent(m -> check.put("message", m));
            }
            ObjectNode details = check.putObject("details");
            new TreeMap<>(result.getDetails()).forEach((k, v) -> {
                // Camel's bookkeeping about the check itself is not news to an operator
                if (!k.startsWith("check.") && !k.startsWith("invocation.") && !k.startsWith("failure.")
                        && !k.startsWith("success.")) {
                    details.put(k, String.valueOf(v));
                }
            });
        }
        boolean up = "UP".equals(body.path("status").asText());
        respond(exchange, up ? 200 : 503, "application/json", body.toPrettyString(), Map.of());
    }

    /**
     * {@code GET /health/live} and {@code /health/ready}, without an API key: {@code 200 {"status":"UP"}} or
     * {@code 503 {"status":"DOWN"}}, no details. Readiness leaves out a held mailbox: the gateway still takes and
     * sends requests for the others, so an orchestrator should not take it out of service for that.
     */
    public void liveness(Exchange exchange) {
        probe(exchange, true);
    }

    public void readiness(Exchange exchange) {
        probe(exchange, false);
    }

    /** {@code GET /api/v1/openapi.yaml}: the API's description, from the jar. */
    public String openApi() {
        return OPEN_API;
    }

    private static String readOpenApi() {
        try (var in = HttpApi.class.getResourceAsStream("/openapi/mailgate-api.yaml")) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("the OpenAPI description is missing from the jar", e);
        }
    }

    private void probe(Exchange exchange, boolean liveness) {
        var results = liveness ? HealthCheckHelper.invokeLiveness(exchange.getContext())
                : HealthCheckHelper.invokeReadiness(exchange.getContext());
        boolean up = results.stream().noneMatch(r -> r.getState() == HealthCheck.State.DOWN);
        respond(exchange, up ? 200 : 503, "application/json", "{\"status\":\"" + (up ? "UP" : "DOWN") + "\"}",
                Map.of());
    }

    /** The request from a JSON body, or from the parts of a multipart form; file parts are stored in {@code folder}. */
    private MailRequest read(Exchange exchange, Path folder) throws IOException {
        HttpServerRequest http = exchange.getIn(HttpMessage.class).getRequest();
        // checked (and made canonical) before the body was read: MediaTypes.check(); parsed again as the one truth
        MediaTypes.Declared declared;
        try {
            declared = MediaTypes.of(http.getHeader("Content-Type"));
        } catch (MediaTypes.Refused e) {
            throw new UnsupportedMediaType(e.getMessage());
        }
        if (declared.kind() == MediaTypes.Kind.JSON) {
            byte[] body = exchange.getIn().getBody(byte[].class);
            return validator.readAndValidate(() -> MailRequestReader.fromJson(
                    new ByteArrayInputStream(body == null ? new byte[0] : body), new AttachmentRoot(folder, UPLOADED),
                    validator.limits().maxMessageBytes()));
        }
        Map<String, DataHandler> parts = exchange.getIn(AttachmentMessage.class).getAttachments();
        Integer uploaded = exchange.getIn().getHeader(Exchange.ATTACHMENTS_SIZE, Integer.class);
        if (uploaded != null && uploaded > parts.size()) {
            // Camel keeps one file per form field name: a second file under the same name would be dropped silently
            throw new InvalidRequestException("(form)", uploaded + " file parts but only " + parts.size()
                    + " distinct field names; give each file part its own name (file1, file2, ...)");
        }
        byte[] json = null;
        List<Path> files = new ArrayList<>();
        MailRequestWriter.createRequestFolder(folder);
        for (Map.Entry<String, DataHandler> part : parts.entrySet()) {
            if (part.getKey().equals("request")) {
                try (InputStream in = part.getValue().getInputStream()) {
                    json = in.readAllBytes();
                }
                continue;
            }
            Path file = folder.resolve(safeName(part.getValue().getName(), folder));
            try (InputStream in = part.getValue().getInputStream()) {
                Files.copy(in, file);
            }
            files.add(file);
        }
        if (json == null) {
            // a plain form field; only the body's fields count, never a header or a query parameter of that name
            String field = http.formAttributes().get("request");
            json = field == null ? null : field.getBytes(StandardCharsets.UTF_8);
        }
        if (json == null) {
            throw new InvalidRequestException("request", "the multipart form has no 'request' part with the "
                    + "MailRequest JSON");
        }
        byte[] request = json;
        return validator.readAndValidate(() -> {
            MailRequest read = MailRequestReader.fromJson(new ByteArrayInputStream(request),
                    new AttachmentRoot(folder, UPLOADED), validator.limits().maxMessageBytes());
            return withUnreferenced(read, files);
        });
    }

    /** File parts the JSON does not name by {@code path} are plain attachments. */
    private static MailRequest withUnreferenced(MailRequest request, List<Path> files) throws IOException {
        List<MailRequest.Attachment> all = new ArrayList<>(request.attachments());
        for (Path file : files) {
            Path real = file.toRealPath();
            boolean named = request.attachments().stream().anyMatch(a -> a.file() != null && a.file().equals(real));
            if (!named) {
                all.add(MailRequest.Attachment.ofFile(real, file.getFileName().toString(), null, null));
            }
        }
        return new MailRequest(request.from(), request.to(), request.cc(), request.bcc(), request.replyTo(),
                request.subject(), request.text(), request.html(), request.template(), request.data(), all,
                request.headers(), request.priority(), request.idempotencyKey(), request.rawMessage(), request.rawRoot());
    }

    /** A part's file name as a plain name inside {@code folder}, never a path, never one already used. */
    private static String safeName(String given, Path folder) {
        String name = given == null ? "" : given.replace('\\', '/');
        name = name.substring(name.lastIndexOf('/') + 1).replaceAll("[\\p{Cntrl}\\u0085\\u2028\\u2029]", "")
                .replace('%', '_').trim();
        if (name.length() > 150) {
            name = name.substring(name.length() - 150);
        }
        if (name.isEmpty() || name.equals(".") || name.equals("..")) {
            name = "attachment";
        }
        String candidate = name;
        for (int n = 2; Files.exists(folder.resolve(candidate)); n++) {
            candidate = n + "-" + name;
        }
        return candidate;
    }

    private void accepted(Exchange exchange, String id, boolean replay) {
        ObjectNode body = JSON.createObjectNode().put("id", id).put("state", replay ? "duplicate" : "queued")
                .put("location", BASE + "/" + id);
        if (replay) {
            body.put("note", "this idempotencyKey arrived before; nothing more will be sent");
        }
        respond(exchange, 202, "application/json", body.toString(), replay
                ? Map.of("Location", BASE + "/" + id, "Idempotent-Replayed", "true")
                : Map.of("Location", BASE + "/" + id));
    }

    private static String json(Journal.Entry e) {
        ObjectNode body = JSON.createObjectNode()
                .put("id", e.id())
                .put("state", e.state().name().toLowerCase(Locale.ROOT))
                .put("channel", e.channel())
                .put("createdAt", e.createdAt().toString())
                .put("updatedAt", e.updatedAt().toString())
                .put("attempts", e.attempts());
        putIf(body, "sender", e.sender());
        if (e.recipients() != null) {
            body.put("recipients", e.recipients());
        }
        putIf(body, "messageId", e.messageId());
        putIf(body, "serverReply", e.serverReply());
        if (e.failureCategory() != null) {
            body.putObject("failure").put("category", e.failureCategory()).put("reason", e.failureReason())
                    .put("fix", e.failureAdvice());
        }
        ArrayNode history = body.putArray("history");
        e.events().forEach(ev -> {
            ObjectNode item = history.addObject().put("state", ev.state().name().toLowerCase(Locale.ROOT))
                    .put("at", ev.at().toString());
            putIf(item, "detail", ev.detail());
        });
        return body.toString();
    }

    private static void putIf(ObjectNode node, String field, String value) {
        if (value != null) {
            node.put(field, value);
        }
    }

    /** Replaces every header (the request's included) with the response's own. */
    private static void respond(Exchange exchange, int status, String contentType, String body,
            Map<String, String> headers) {
        var message = exchange.getMessage();
        message.removeHeaders("*");
        if (message instanceof AttachmentMessage attachments && attachments.hasAttachments()) {
            attachments.getAttachments().clear();
        }
        message.setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        message.setHeader(Exchange.CONTENT_TYPE, contentType);
        headers.forEach(message::setHeader);
        message.setBody(body);
    }

    /** The body is neither JSON nor a multipart form. */
    private static final class UnsupportedMediaType extends RuntimeException {
        UnsupportedMediaType(String message) {
            super(message, null, false, false);
        }
    }
}
