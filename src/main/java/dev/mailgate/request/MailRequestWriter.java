package dev.mailgate.request;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
        if (r.isRaw()) {
            json.put("rawMessage", relative(root, into(root, folder, r.rawRoot(), r.rawMessage(), "message.eml",
                    "rawMessage")));
            if (r.idempotencyKey() != null) {
                json.put("idempotencyKey", r.idempotencyKey());
            }
            return JSON.writeValueAsString(json);
        }
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
        for (int i = 0; i < r.attachments().size(); i++) {
            MailRequest.Attachment a = r.attachments().get(i);
            Path file;
            if (a.file() == null) {
                file = free(folder, ".inline");
                Files.write(file, a.content());
            } else {
                file = into(root, folder, a.root(), a.file(), a.filename(), "attachments[" + i + "].path");
            }
            ObjectNode item = attachments.addObject().put("path", relative(root, file)).put("filename", a.filename());
            if (a.contentType() != null) {
                item.put("contentType", a.contentType());
            }
            if (a.contentId() != null) {
                item.put("contentId", a.contentId());
            }
        }
        return JSON.writeValueAsString(json);
    }

    /**
     * {@code file} itself when it is already inside {@code root} (an HTTP upload), else a copy in {@code folder}: an
     * outbox attachment may be changed or deleted after the request was dropped, the queued request must not be.
     * The copy reads the file through {@link AttachmentRoot#open} from the folder it was checked in: were it swapped
     * for a link since the check, the request fails with {@code field} named instead of copying what the link points at.
     */
    private static Path into(Path root, Path folder, Path fileRoot, Path file, String name, String field)
            throws IOException {
        if (file.toAbsolutePath().normalize().startsWith(root.toAbsolutePath().normalize())) {
            return file;
        }
        Path copy = free(folder, "." + name.replaceAll("[^A-Za-z0-9._-]", "_"));
        try (InputStream in = Channels.newInputStream(AttachmentRoot.open(field, fileRoot, file))) {
            Files.copy(in, copy);
        }
        return copy;
    }

    /**
     * Creates a request's own folder (e.g. {@code data/uploads/<id>/}) readable by Mailgate's user only, where the file
     * system has POSIX permissions: a JMS attachments folder shared with a group of producers
     * ({@code mailgate.jms.attachments-dir} outside {@code data/}) must not let them read, or replace, the files of
     * another principal's request.
     */
    public static void createRequestFolder(Path folder) throws IOException {
        if (Files.isDirectory(folder, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.createDirectories(folder.getParent());
        try {
            Files.createDirectory(folder, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(
                    "rwx------")));
        } catch (UnsupportedOperationException e) {
            Files.createDirectory(folder);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(folder, LinkOption.NOFOLLOW_LINKS)) {
                throw e;
            }
        }
    }

    private static Path free(Path folder, String name) throws IOException {
        createRequestFolder(folder);
        Path candidate = folder.resolve(name);
        for (int n = 2; Files.exists(candidate); n++) {
            candidate = folder.resolve(name + "-" + n);
        }
        return candidate;
    }

    private static String relative(Path root, Path file) {
        return root.toAbsolutePath().normalize().relativize(file.toAbsolutePath().normalize()).toString()
                .replace('\\', '/');
    }

    private static void put(ObjectNode json, String field, List<String> values) {
        if (!values.isEmpty()) {
            ArrayNode list = json.putArray(field);
            values.forEach(list::add);
        }
    }
}
