package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;

import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.outcome.Admission;
import dev.mailgate.outcome.DeliveryExchange;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;
import dev.mailgate.outcome.OutcomeHandler;
import dev.mailgate.outcome.Receipt;
import dev.mailgate.render.TemplateRenderer;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestReader;
import dev.mailgate.request.MailRequestValidator;

/**
 * The Java side of the outbox channel: turns a picked-up file into a {@link MailRequest}, and records the
 * outcome by moving the file to {@code .sent/} (then writing {@code <name>.receipt.json}) or {@code .failed/}
 * (then {@code <name>.error.json}). Mailgate moves the file itself, under a name no earlier outcome uses, so
 * nothing is ever overwritten, and the file is in exactly one place at every moment: a crash before the move
 * leaves it pending (it is sent again), a crash after it leaves at worst a missing receipt.
 */
public final class OutboxChannel implements OutcomeHandler {

    static final String SENT = ".sent";
    static final String FAILED = ".failed";

    private static final Logger LOG = LoggerFactory.getLogger(OutboxChannel.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final AttachmentRoot attachments;
    private final TemplateRenderer renderer;
    private final MailRequestValidator validator;
    private final Journal journal;
    private final Path sandboxDir;

    /** @param sandboxDir where the sandbox keeps delivered mail, or {@code null} when sending for real */
    public OutboxChannel(AttachmentRoot attachments, TemplateRenderer renderer, MailRequestValidator validator,
            Journal journal, Path sandboxDir) {
        this.attachments = attachments;
        this.renderer = renderer;
        this.validator = validator;
        this.journal = journal;
        this.sandboxDir = sandboxDir;
    }

    /** A {@code *.json} request or {@code *.eml} message, read and validated (every problem reported at once). */
    public void readRequest(Exchange exchange) throws IOException {
        Path file = begin(exchange);
        MailRequest request;
        if (file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".eml")) {
            request = validator.readAndValidate(() -> MailRequestReader.fromEml(file));
        } else {
            request = validator.readAndValidate(() -> {
                try (InputStream in = Files.newInputStream(file)) {
                    return MailRequestReader.fromJson(in, attachments);
                }
            });
        }
        admit(exchange, file, request);
    }

    /** Records the request in the journal; a repeat of an idempotency key is not sent again. */
    private void admit(Exchange exchange, Path file, MailRequest request) {
        Optional<String> earlier = Admission.repeatOf(journal, exchange, request);
        if (earlier.isPresent()) {
            LOG.info("Not sending {} again: it repeats delivery {}", file, earlier.get());
            record(file, SENT, ".receipt.json", JSON.createObjectNode()
                    .put("status", "duplicate")
                    .put("id", earlier.get())
                    .put("file", file.getFileName().toString())
                    .put("note", earlier.get().equals(DeliveryExchange.id(exchange))
                            ? "this file was sent before (the journal has it); nothing was sent again"
                            : "the idempotencyKey of this request arrived before, with delivery " + earlier.get()
                                    + "; nothing was sent again"));
            exchange.setRouteStop(true);
            return;
        }
        exchange.getIn().setBody(request);
    }

    /**
     * Reads plain files into mails as the route describes them. The route's own settings are checked now, when
     * the route is created: a wrong recipient in {@code routes/*.yaml} stops start-up with the parameter named,
     * instead of failing every file.
     */
    public Processor fileReader(String folder, MailRequestReader.FileMail route) {
        try {
            Path sample = Files.createTempFile("mailgate-route-check", ".pdf");
            try {
                MailRequest request = forFile(sample, route);
                validator.validate(request);
            } finally {
                Files.deleteIfExists(sample);
            }
        } catch (InvalidRequestException e) {
            throw new ConfigurationException(e.problems().stream()
                    .map(p -> "the route for folder " + folder + ": parameter " + p.field() + ": " + p.message())
                    .toList());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return exchange -> {
            Path file = begin(exchange);
            admit(exchange, file, forFile(file, route));
        };
    }

    private MailRequest forFile(Path file, MailRequestReader.FileMail route) {
        MailRequest request = MailRequestReader.forFile(file, route);
        return route.subject() == null ? request
                : request.withSubject(renderer.renderInline("subject", route.subject(), request.data()));
    }

    private Path begin(Exchange exchange) throws IOException {
        Path file = Path.of(exchange.getIn().getHeader(Exchange.FILE_PATH, String.class));
        DeliveryExchange.begin(exchange, deliveryId(file), "outbox", file.toString(), this);
        return file;
    }

    /**
     * The same file (path, inode, size, modification time) always gets the same delivery id: after a crash the
     * file is read again, and its idempotency key must not make it look like a repeat of itself.
     */
    private static String deliveryId(Path file) throws IOException {
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        String identity = file.toAbsolutePath() + "|" + attributes.fileKey() + "|" + attributes.size() + "|"
                + attributes.lastModifiedTime().toMillis();
        return UUID.nameUUIDFromBytes(identity.getBytes(StandardCharsets.UTF_8)).toString();
    }

    @Override
    public void sent(Exchange exchange, Receipt receipt) {
        Path file = Path.of(exchange.getIn().getHeader(Exchange.FILE_PATH, String.class));
        ObjectNode json = JSON.createObjectNode()
                .put("status", "sent")
                .put("id", receipt.id())
                .put("file", file.getFileName().toString())
                .put("messageId", receipt.messageId())
                .put("mailbox", receipt.mailbox())
                .put("recipients", receipt.recipients())
                .put("server", receipt.server())
                .put("serverReply", receipt.serverReply())
                .put("sentAt", receipt.sentAt().toString())
                .put("attempts", receipt.attempts());
        if (receipt.sandbox()) {
            json.put("sandbox", true);
            json.put("notice", "SANDBOX: this message was delivered to Mailgate's embedded test server and stored in "
                    + sandboxDir + "; nothing left this machine");
        }
        record(file, SENT, ".receipt.json", json);
    }

    @Override
    public void failed(Exchange exchange, Failure failure) {
        Path file = Path.of(exchange.getIn().getHeader(Exchange.FILE_PATH, String.class));
        ObjectNode json = JSON.createObjectNode()
                .put("status", "failed")
                .put("id", DeliveryExchange.id(exchange))
                .put("file", file.getFileName().toString())
                .put("failedAt", Instant.now().toString())
                .put("category", failure.category().label())
                .put("reason", failure.reason())
                .put("fix", failure.advice())
                .put("attempts", DeliveryExchange.attempts(exchange));
        if (failure.serverReply() != null) {
            json.put("serverReply", failure.serverReply());
        }
        if (!failure.problems().isEmpty()) {
            ArrayNode errors = json.putArray("errors");
            failure.problems().forEach(p -> errors.addObject().put("field", p.field()).put("message", p.message()));
        }
        if (failure.retryable()) {
            json.put("retry", "this failure is temporary: move the file back into the outbox to try again");
        }
        record(file, FAILED, ".error.json", json);
    }

    /**
     * Moves the file into its outcome folder under a free name, then writes the receipt or error file next to it.
     * Never throws: the outcome is already decided (a sent mail must not be reported as a failure), so a file
     * system problem here is logged for the operator.
     */
    private static void record(Path file, String folder, String suffix, ObjectNode json) {
        Path dir = file.toAbsolutePath().getParent().resolve(folder);
        Path target = null;
        try {
            Files.createDirectories(dir);
            target = dir.resolve(freeName(dir, file.getFileName().toString(), suffix));
            move(file, target);
        } catch (IOException | RuntimeException e) {
            LOG.error("{} could not be moved to {}/ ({}); it stays in the outbox and is not picked up again until "
                    + "Mailgate restarts", file, folder, e.toString());
            target = target == null ? dir.resolve(file.getFileName()) : target;
        }
        try {
            writeAtomically(target.resolveSibling(target.getFileName() + suffix), JSON.writeValueAsBytes(json));
        } catch (IOException | RuntimeException e) {
            LOG.error("The {} of {} could not be written into {} ({}); it was: {}", suffix.substring(1), file, dir,
                    e.toString(), json);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /** {@code report.pdf}, or {@code report-2.pdf} if a report.pdf was sent before, and so on. */
    static String freeName(Path dir, String name, String suffix) {
        int dot = name.lastIndexOf('.');
        String base = dot > 0 ? name.substring(0, dot) : name;
        String ext = dot > 0 ? name.substring(dot) : "";
        String candidate = name;
        for (int n = 2; Files.exists(dir.resolve(candidate)) || Files.exists(dir.resolve(candidate + suffix)); n++) {
            candidate = base + "-" + n + ext;
        }
        return candidate;
    }

    private static void writeAtomically(Path target, byte[] bytes) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        Files.write(tmp, bytes);
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
