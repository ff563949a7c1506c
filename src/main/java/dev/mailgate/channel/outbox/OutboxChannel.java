package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Locale;

import org.apache.camel.Exchange;
import org.apache.camel.Processor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.outcome.DeliveryExchange;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.OutcomeHandler;
import dev.mailgate.outcome.Receipt;
import dev.mailgate.render.TemplateRenderer;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestReader;

/**
 * The Java side of the outbox channel: turns a picked-up file into a {@link MailRequest}, and records the
 * outcome next to it: {@code .sent/<name>} plus {@code <name>.receipt.json}, or {@code .failed/<name>} plus
 * {@code <name>.error.json}. Receipts and error files are written before the file is moved, each atomically,
 * so a crash leaves the file pending (and sent again) rather than recorded wrongly.
 */
public final class OutboxChannel implements OutcomeHandler {

    static final String OUTCOME_PATH = "mailgateOutcome";
    static final String SENT = ".sent";
    static final String FAILED = ".failed";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final AttachmentRoot attachments;
    private final TemplateRenderer renderer;
    private final Path sandboxDir;

    /** @param sandboxDir where the sandbox keeps delivered mail, or {@code null} when sending for real */
    public OutboxChannel(AttachmentRoot attachments, TemplateRenderer renderer, Path sandboxDir) {
        this.attachments = attachments;
        this.renderer = renderer;
        this.sandboxDir = sandboxDir;
    }

    /** A {@code *.json} request or {@code *.eml} message. */
    public void readRequest(Exchange exchange) throws IOException {
        Path file = begin(exchange);
        MailRequest request;
        if (file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".eml")) {
            request = MailRequestReader.fromEml(file);
        } else {
            try (InputStream in = Files.newInputStream(file)) {
                request = MailRequestReader.fromJson(in, attachments);
            }
        }
        exchange.getIn().setBody(request);
    }

    /** Reads plain files into mails as the route describes them. */
    public Processor fileReader(MailRequestReader.FileMail route) {
        return exchange -> {
            Path file = begin(exchange);
            MailRequest request = MailRequestReader.forFile(file, route);
            if (route.subject() != null) {
                request = request.withSubject(renderer.renderInline("subject", route.subject(), request.data()));
            }
            exchange.getIn().setBody(request);
        };
    }

    private Path begin(Exchange exchange) {
        Path file = Path.of(exchange.getIn().getHeader(Exchange.FILE_PATH, String.class));
        // whatever happens from here on, the file must not stay where it is unless we crash
        exchange.setProperty(OUTCOME_PATH, FAILED + "/" + file.getFileName());
        DeliveryExchange.begin(exchange, file.toString(), this);
        return file;
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
        record(exchange, file, SENT, ".receipt.json", json);
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
        record(exchange, file, FAILED, ".error.json", json);
    }

    /** Writes the receipt or error file under a name no earlier outcome uses, then tells Camel where to move. */
    private static void record(Exchange exchange, Path file, String folder, String suffix, ObjectNode json) {
        Path dir = file.toAbsolutePath().getParent().resolve(folder);
        try {
            Files.createDirectories(dir);
            String name = freeName(dir, file.getFileName().toString(), suffix);
            writeAtomically(dir.resolve(name + suffix), JSON.writeValueAsBytes(json));
            exchange.setProperty(OUTCOME_PATH, folder + "/" + name);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the outcome of " + file + " into " + dir + ": " + e, e);
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
