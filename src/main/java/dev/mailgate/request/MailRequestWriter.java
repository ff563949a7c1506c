package dev.mailgate.request;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Writes a validated {@link MailRequest} back as MailRequest JSON for the queue, so that what the HTTP API accepted
 * is exactly what the JMS channel later reads. Attachments become files: inline (base64) content is written into
 * {@code folder}, and every attachment is referenced by its path relative to {@code root}, the queue's attachment
 * folder.
 */
public final class MailRequestWriter {

    private static final ObjectMapper JSON = new ObjectMapper();

    private MailRequestWriter() {
    }

    public static String toJson(MailRequest r, Path root, Path folder) throws IOException {
        ObjectNode json = JSON.createObjectNode();
        json.put("from", r.from());
        put(json, "to", r.to());
        put(json, "cc", r.cc());
        put(json, "bcc", r.bcc());
        put(json, "replyTo", r.replyTo());
        if (r.subject() != null) {
            json.put("subject", r.subject());
        }
        if (r.text() != null) {
            json.put("text", r.text());
        }
        if (r.html() != null) {
            json.put("html", r.html());
        }
        if (r.template() != null) {
            json.put("template", r.template());
            json.set("data", JSON.valueToTree(r.data()));
        }
        if (!r.headers().isEmpty()) {
            ObjectNode headers = json.putObject("headers");
            r.headers().forEach(headers::put);
        }
        json.put("priority", r.priority().name().toLowerCase(Locale.ROOT));
        if (r.idempotencyKey() != null) {
            json.put("idempotencyKey", r.idempotencyKey());
        }
        ArrayNode attachments = json.putArray("attachments");
        int n = 0;
        for (MailRequest.Attachment a : r.attachments()) {
            Path file = a.file();
            if (file == null) {
                Files.createDirectories(folder);
                do {
                    file = folder.resolve(".inline-" + (++n));
                } while (Files.exists(file));
                Files.write(file, a.content());
            }
            ObjectNode item = attachments.addObject()
                    .put("path", root.toAbsolutePath().normalize().relativize(file.toAbsolutePath().normalize())
                            .toString().replace('\\', '/'))
                    .put("filename", a.filename());
            if (a.contentType() != null) {
                item.put("contentType", a.contentType());
            }
            if (a.contentId() != null) {
                item.put("contentId", a.contentId());
            }
        }
        return JSON.writeValueAsString(json);
    }

    private static void put(ObjectNode json, String field, List<String> values) {
        if (!values.isEmpty()) {
            ArrayNode list = json.putArray(field);
            values.forEach(list::add);
        }
    }
}
