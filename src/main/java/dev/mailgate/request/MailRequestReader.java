package dev.mailgate.request;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import jakarta.mail.MessagingException;
import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.InternetHeaders;
import jakarta.mail.internet.MimeUtility;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;


/**
 * Reads the three shapes a request arrives in into the one {@link MailRequest}: MailRequest JSON, a ready
 * {@code .eml} message, and a plain file to be sent as an attachment with settings from its route.
 * Structural problems (unknown fields, wrong types, bad base64, attachment paths) are collected with
 * their field paths; the {@link MailRequestValidator} then checks the content.
 * <p>
 * Longer than most classes here on purpose: the three shapes share one collector of field problems ({@code Fields}),
 * and a class per shape would each need it. What parsers say about input that cannot be parsed is in
 * {@link ParseErrors}.
 */
public final class MailRequestReader {

    static final List<String> FIELDS = List.of("from", "to", "cc", "bcc", "replyTo", "subject", "text", "html",
            "template", "data", "attachments", "headers", "priority", "idempotencyKey", "rawMessage");
    private static final Set<String> ATTACHMENT_FIELDS = Set.of("path", "filename", "content", "contentType",
            "contentId");

    private static final Pattern WHITESPACE = Pattern.compile("\\s+");

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** A reader per message size limit (one or two in a running gateway): building one costs more than a read. */
    private static final Map<Long, ObjectReader> READERS = new ConcurrentHashMap<>();
    /** {@code mailgate.limits.max-message-size}'s default, for callers without settings (tools, tests). */
    static final long DEFAULT_MAX_MESSAGE_BYTES = 35L * 1024 * 1024;

    private MailRequestReader() {
    }

    /** A MailRequest JSON document; attachment paths resolve inside {@code attachments}. */
    public static MailRequest fromJson(InputStream in, AttachmentRoot attachments) {
        return fromJson(in, attachments, DEFAULT_MAX_MESSAGE_BYTES);
    }

    /**
     * A MailRequest JSON document for a gateway whose messages may be {@code maxMessageBytes} long
     * ({@code mailgate.limits.max-message-size}): no string in it may be longer than that, since none could fit.
     * Jackson's own default (20 million characters) refused inline attachments of 15 MB as "not valid JSON".
     */
    public static MailRequest fromJson(InputStream in, AttachmentRoot attachments, long maxMessageBytes) {
        JsonNode node;
        JsonParser parser = null;
        try {
            parser = reader(maxMessageBytes).createParser(in);
            node = reader(maxMessageBytes).readTree(parser);
        } catch (StreamConstraintsException e) {
            throw tooLong(parser, maxMessageBytes);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new InvalidRequestException("(request)", "is not valid JSON" + where + ": " + ParseErrors.syntaxError(e));
        } catch (IOException e) {
            throw new InvalidRequestException("(request)", "cannot be read (" + e.getClass().getSimpleName() + ")");
        } finally {
            closeQuietly(parser);
        }
        if (node == null || node.isMissingNode()) {
            throw new InvalidRequestException("(request)", "is empty; write a JSON object such as "
                    + "{\"to\": \"someone@example.com\", \"subject\": \"Hello\", \"text\": \"Hi\"}");
        }
        if (!node.isObject()) {
            throw new InvalidRequestException("(request)", "must be a JSON object {...}, not " + kind(node));
        }
        return fromTree((ObjectNode) node, attachments);
    }

    private static ObjectReader reader(long maxMessageBytes) {
        return READERS.computeIfAbsent(maxMessageBytes, max -> JSON.readerFor(JsonNode.class).with(JsonFactory.builder()
                .streamReadConstraints(StreamReadConstraints.builder()
                        .maxStringLength((int) Math.min(Integer.MAX_VALUE - 1, max)).build())
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .build()));
    }

    /** The size error for a string over the limit, naming the field the parser was in (e.g. attachments[0].content). */
    private static InvalidRequestException tooLong(JsonParser parser, long maxMessageBytes) {
        String field = parser == null ? "(request)" : fieldOf(parser.getParsingContext());
        return new InvalidRequestException(field, "is longer than any message Mailgate may send: a text or an inline "
                + "attachment's base64 of more than " + String.format(Locale.ROOT, "%,d", maxMessageBytes)
                + " characters cannot fit in the limit of " + String.format(Locale.ROOT, "%.1f MB",
                        maxMessageBytes / (1024.0 * 1024.0)) + " (mailgate.limits.max-message-size); send a smaller "
                + "file, or a link");
    }

    /** {@code attachments[0].content} for the parser's place, or {@code (request)} at the top. */
    private static String fieldOf(JsonStreamContext context) {
        List<String> parts = new ArrayList<>();
        for (JsonStreamContext c = context; c != null && !c.inRoot(); c = c.getParent()) {
            if (c.inArray()) {
                parts.add(0, "[" + Math.max(0, c.getCurrentIndex()) + "]");
            } else if (c.getCurrentName() != null) {
                parts.add(0, "." + c.getCurrentName());
            }
        }
        String field = String.join("", parts);
        return field.isEmpty() ? "(request)" : field.startsWith(".") ? field.substring(1) : field;
    }

    private static void closeQuietly(JsonParser parser) {
        if (parser != null) {
            try {
                parser.close();
            } catch (IOException e) {
                // the caller owns the stream; the parser only gives back its buffers
            }
        }
    }

    static MailRequest fromTree(ObjectNode request, AttachmentRoot attachments) {
        if (request.has("rawMessage")) {
            return rawMessage(request, attachments);
        }
        Fields f = new Fields();
        for (Iterator<String> names = request.fieldNames(); names.hasNext();) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                f.problem(name, "is not a MailRequest field" + suggestion(name, FIELDS) + "; known fields: "
                        + String.join(", ", FIELDS));
            }
        }
        MailRequest.Priority priority = MailRequest.Priority.NORMAL;
        String priorityText = f.text(request, "priority");
        if (priorityText != null) {
            try {
                priority = MailRequest.Priority.valueOf(priorityText.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                f.problem("priority", "'" + priorityText + "' is not a priority; use high, normal or low");
            }
        }
        MailRequest result = new MailRequest(
                f.text(request, "from"),
                f.addresses(request, "to"),
                f.addresses(request, "cc"),
                f.addresses(request, "bcc"),
                f.addresses(request, "replyTo"),
                f.text(request, "subject"),
                f.text(request, "text"),
                f.text(request, "html"),
                f.text(request, "template"),
                f.data(request),
                f.attachments(request, attachments),
                f.headers(request),
                priority,
                f.text(request, "idempotencyKey"),
                null);
        f.throwIfProblems(result);
        return result;
    }

    /**
     * {@code {"rawMessage": "<path of an .eml file>"}}: a ready message, sent as it is. Its addresses come from its own
     * headers only, so no other field may accompany it but {@code idempotencyKey}.
     */
    private static MailRequest rawMessage(ObjectNode request, AttachmentRoot attachments) {
        Fields f = new Fields();
        request.fieldNames().forEachRemaining(name -> {
            if (!name.equals("rawMessage") && !name.equals("idempotencyKey")) {
                f.problem(name, "cannot be given with rawMessage: a ready message carries its own headers");
            }
        });
        String path = f.text(request, "rawMessage");
        String key = f.text(request, "idempotencyKey");
        Path eml = null;
        if (path != null) {
            try {
                eml = attachments.resolve("rawMessage", path);
            } catch (InvalidRequestException e) {
                f.problems.addAll(e.problems());
            }
        }
        f.throwIfProblems();
        MailRequest raw = fromEml(eml, attachments.realPath(), "rawMessage");
        return new MailRequest(raw.from(), raw.to(), raw.cc(), raw.bcc(), raw.replyTo(), raw.subject(), null, null,
                null, Map.of(), List.of(), Map.of(), MailRequest.Priority.NORMAL, key, raw.rawMessage(), raw.rawRoot());
    }

    /**
     * A complete message to transmit unchanged. Only its header block is read here, for the addresses the
     * validator checks; the body stays on disk until it is streamed to the server. The file's folder is trusted;
     * the file itself is opened without following a link.
     */
    public static MailRequest fromEml(Path eml) {
        Path file = eml.toAbsolutePath().normalize();
        return fromEml(file, file.getParent(), "(message)");
    }

    private static MailRequest fromEml(Path eml, Path root, String field) {
        InternetHeaders headers;
        try (InputStream in = Channels.newInputStream(AttachmentRoot.open(field, root, eml))) {
            headers = new InternetHeaders(in, true);
        } catch (IOException | MessagingException e) {
            throw new InvalidRequestException("(message)", "cannot be read as an RFC 5322 message ("
                    + e.getClass().getSimpleName() + ")");
        }
        if (headers.getHeader("From") == null && headers.getHeader("To") == null
                && headers.getHeader("Subject") == null) {
            throw new InvalidRequestException("(message)", "has no From, To or Subject header; an .eml file must "
                    + "start with the message headers");
        }
        Fields f = new Fields();
        List<String> from = f.emlAddresses(headers, "From");
        String subject = headers.getHeader("Subject", null);
        if (subject != null) {
            try {
                // long subjects are folded over several lines; the logical value is one line
                subject = MimeUtility.decodeText(MimeUtility.unfold(subject));
            } catch (IOException e) {
                // keep the raw text: the subject is informational here
            }
        }
        MailRequest result = new MailRequest(
                from.isEmpty() ? null : from.get(0),
                f.emlAddresses(headers, "To"),
                f.emlAddresses(headers, "Cc"),
                f.emlAddresses(headers, "Bcc"),
                f.emlAddresses(headers, "Reply-To"),
                subject, null, null, null, Map.of(), List.of(), Map.of(), MailRequest.Priority.NORMAL, null,
                eml, root);
        if (from.size() > 1) {
            f.problem("From", "names " + from.size() + " addresses; Mailgate sends as exactly one mailbox");
        }
        f.throwIfProblems();
        return result;
    }

    /**
     * A plain file (a PDF from a scanner, a report) sent as the attachment of a mail whose recipients,
     * subject and template come from the route that picked the file up.
     */
    public static MailRequest forFile(Path file, FileMail route) {
        Map<String, Object> data = new LinkedHashMap<>(route.data());
        Map<String, Object> fileInfo = new LinkedHashMap<>();
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        fileInfo.put("name", name);
        fileInfo.put("baseName", dot > 0 ? name.substring(0, dot) : name);
        try {
            fileInfo.put("size", Files.size(file));
        } catch (IOException e) {
            throw new InvalidRequestException("(file)", "cannot be read (" + e.getClass().getSimpleName() + ")");
        }
        data.put("file", fileInfo);
        return new MailRequest(route.from(), route.to(), route.cc(), route.bcc(), List.of(), route.subject(),
                route.text(), null, route.template(), data,
                List.of(MailRequest.Attachment.ofFile(file, name, null, null)), Map.of(),
                MailRequest.Priority.NORMAL, null, null);
    }

    /** What a route says about the mails it makes from plain files. */
    public record FileMail(String from, List<String> to, List<String> cc, List<String> bcc, String subject,
            String text, String template, Map<String, Object> data) {
    }

    private static String kind(JsonNode node) {
        if (node.isArray()) {
            return "an array";
        }
        if (node.isTextual()) {
            return "a string";
        }
        if (node.isNumber()) {
            return "a number";
        }
        if (node.isBoolean()) {
            return "true/false";
        }
        if (node.isNull()) {
            return "null";
        }
        return "an object";
    }

    private static String suggestion(String name, List<String> known) {
        String lower = name.toLowerCase(Locale.ROOT).replace("_", "").replace("-", "");
        for (String k : known) {
            if (k.toLowerCase(Locale.ROOT).equals(lower)) {
                return " (did you mean '" + k + "'?)";
            }
        }
        return "";
    }

    /** Typed access to request fields that records problems instead of throwing. */
    private static final class Fields {
        private final List<Problem> problems = new ArrayList<>();

        void problem(String field, String message) {
            problems.add(new Problem(field, message));
        }

        void throwIfProblems() {
            throwIfProblems(null);
        }

        void throwIfProblems(MailRequest partial) {
            if (!problems.isEmpty()) {
                throw new InvalidRequestException(problems, partial);
            }
        }

        String text(ObjectNode node, String field) {
            return text(node, field, field);
        }

        String text(JsonNode node, String field, String path) {
            JsonNode value = node.get(field);
            if (value == null || value.isNull()) {
                return null;
            }
            if (!value.isTextual()) {
                problem(path, "must be a string, not " + kind(value));
                return null;
            }
            return value.textValue();
        }

        List<String> addresses(ObjectNode node, String field) {
            JsonNode value = node.get(field);
            List<String> result = new ArrayList<>();
            if (value == null || value.isNull()) {
                return result;
            }
            if (value.isTextual()) {
                result.add(value.textValue());
            } else if (value.isArray()) {
                for (int i = 0; i < value.size(); i++) {
                    JsonNode item = value.get(i);
                    if (item.isTextual()) {
                        result.add(item.textValue());
                    } else {
                        problem(field + "[" + i + "]", "must be an address string, not " + kind(item));
                    }
                }
            } else {
                problem(field, "must be an address or a list of addresses, not " + kind(value));
            }
            return result;
        }

        Map<String, Object> data(ObjectNode node) {
            JsonNode value = node.get("data");
            if (value == null || value.isNull()) {
                return Map.of();
            }
            if (!value.isObject()) {
                problem("data", "must be an object of template values, not " + kind(value));
                return Map.of();
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> map = JSON.convertValue(value, Map.class);
            return map;
        }

        Map<String, String> headers(ObjectNode node) {
            JsonNode value = node.get("headers");
            Map<String, String> result = new LinkedHashMap<>();
            if (value == null || value.isNull()) {
                return result;
            }
            if (!value.isObject()) {
                problem("headers", "must be an object of \"X-Name\": \"value\" pairs, not " + kind(value));
                return result;
            }
            value.properties().forEach(e -> {
                if (e.getValue().isTextual()) {
                    result.put(e.getKey(), e.getValue().textValue());
                } else {
                    problem("headers." + e.getKey(), "must be a string, not " + kind(e.getValue()));
                }
            });
            return result;
        }

        List<MailRequest.Attachment> attachments(ObjectNode node, AttachmentRoot root) {
            JsonNode value = node.get("attachments");
            List<MailRequest.Attachment> result = new ArrayList<>();
            if (value == null || value.isNull()) {
                return result;
            }
            if (!value.isArray()) {
                problem("attachments", "must be a list of attachments, not " + kind(value));
                return result;
            }
            for (int i = 0; i < value.size(); i++) {
                String path = "attachments[" + i + "]";
                JsonNode item = value.get(i);
                if (!item.isObject()) {
                    problem(path, "must be an object with \"path\", or \"filename\" and \"content\"");
                    continue;
                }
                Set<String> unknown = new TreeSet<>();
                item.fieldNames().forEachRemaining(n -> {
                    if (!ATTACHMENT_FIELDS.contains(n)) {
                        unknown.add(n);
                    }
                });
                unknown.forEach(n -> problem(path + "." + n, "is not an attachment field; known fields: "
                        + String.join(", ", new TreeSet<>(ATTACHMENT_FIELDS))));
                String file = text(item, "path", path + ".path");
                String filename = text(item, "filename", path + ".filename");
                String content = text(item, "content", path + ".content");
                String contentType = text(item, "contentType", path + ".contentType");
                String contentId = text(item, "contentId", path + ".contentId");
                if ((file == null) == (content == null)) {
                    problem(path, "give either \"path\" (a file in the attachments folder) or \"filename\" + "
                            + "\"content\" (base64), not " + (file == null ? "neither" : "both"));
                    continue;
                }
                if (file != null) {
                    try {
                        Path resolved = root.resolve(path + ".path", file);
                        result.add(MailRequest.Attachment.ofFile(root.realPath(), resolved,
                                filename != null ? filename : resolved.getFileName().toString(), contentType,
                                contentId));
                    } catch (InvalidRequestException e) {
                        problems.addAll(e.problems());
                    }
                } else {
                    if (filename == null) {
                        problem(path + ".filename", "is required with \"content\"; name the file, e.g. report.pdf");
                    }
                    try {
                        // line breaks from wrapped base64 are fine; anything else outside the alphabet is an
                        // error (the MIME decoder would silently drop it and attach garbage or nothing)
                        byte[] bytes = Base64.getDecoder().decode(WHITESPACE.matcher(content).replaceAll(""));
                        result.add(MailRequest.Attachment.ofBytes(bytes, filename, contentType, contentId));
                    } catch (IllegalArgumentException e) {
                        // the JDK's message quotes the offending character: name its position instead
                        problem(path + ".content", "is not valid base64 (" + ParseErrors.base64Error(content) + ")");
                    }
                }
            }
            return result;
        }

        List<String> emlAddresses(InternetHeaders headers, String name) {
            String value = headers.getHeader(name, ",");
            List<String> result = new ArrayList<>();
            if (value == null || value.isBlank()) {
                return result;
            }
            try {
                for (InternetAddress a : InternetAddress.parseHeader(value, false)) {
                    if (a.isGroup()) {
                        // "undisclosed-recipients:;" and other groups: their members are the recipients
                        for (InternetAddress member : a.getGroup(false)) {
                            result.add(member.toUnicodeString());
                        }
                    } else {
                        result.add(a.toUnicodeString());
                    }
                }
            } catch (AddressException e) {
                // the exception's text quotes the whole header; name the kind of error and where it is instead
                problem(name, "header cannot be parsed as addresses: " + ParseErrors.addressError(e));
            }
            return result;
        }
    }
}
