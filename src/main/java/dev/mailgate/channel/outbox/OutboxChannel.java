package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;

import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.channel.QueuedRequest;
import dev.mailgate.channel.Uploads;
import dev.mailgate.config.ConfigurationException;
import dev.mailgate.outcome.Admission;
import dev.mailgate.outcome.DeliveryExchange;
import dev.mailgate.outcome.Journal;
import dev.mailgate.outcome.KnownFailure;
import dev.mailgate.render.TemplateRenderer;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestReader;
import dev.mailgate.request.MailRequestValidator;
import dev.mailgate.request.MailRequestWriter;
import dev.mailgate.text.Text;

/**
 * The Java side of the outbox channel: turns a picked-up file into a {@link MailRequest}, checks it, records it,
 * and hands it to the durable queue, where the one sending path (the JMS route) delivers it with every other
 * channel's mail. The file then waits in {@code .queued/} until its outcome moves it to {@code .sent/} or
 * {@code .failed/} (see {@link OutboxFiles}). Requests that fail before the hand-off (unreadable, invalid) and
 * repeats go straight to their outcome folder.
 */
public final class OutboxChannel {

    /** The bean whose methods are the steps of the outbox route templates ({@code mailgate/mailgate-outbox.yaml}). */
    public static final String BEAN = "mailgateOutbox";

    private static final Logger LOG = LoggerFactory.getLogger(OutboxChannel.class);
    /** Set once the request is given to the queue: from then on its files may be needed by the queue's consumer. */
    private static final String HANDED_TO_QUEUE = "mailgate.outboxHandedToQueue";
    /** This reading's copy of the file (and the folder its attachments are written to). */
    private static final String COPY = "mailgate.outboxCopy";
    /** Where the file waits in {@code .queued/} once the request is on the queue. */
    private static final String PLACE = "mailgate.outboxQueuedPlace";

    private final AttachmentRoot attachments;
    private final TemplateRenderer renderer;
    private final MailRequestValidator validator;
    private final Journal journal;
    private final OutboxEntries entries;
    private final OutboxFiles files;
    private final Uploads uploads;
    private final QueuedRequest signer;

    public OutboxChannel(AttachmentRoot attachments, TemplateRenderer renderer, MailRequestValidator validator,
            Journal journal, OutboxEntries entries, OutboxFiles files, Uploads uploads, QueuedRequest signer) {
        this.signer = signer;
        this.attachments = attachments;
        this.renderer = renderer;
        this.validator = validator;
        this.journal = journal;
        this.entries = entries;
        this.files = files;
        this.uploads = uploads;
    }

    /**
     * Takes the file: its delivery id (kept across restarts in its name), and a refusal, without opening it, of an
     * entry that is not a plain file of its own (a link, a FIFO, a folder), which fails with what it is.
     */
    public void take(Exchange exchange) throws IOException {
        Path file = Path.of(exchange.getIn().getHeader(Exchange.FILE_PATH, String.class));
        DeliveryExchange.begin(exchange, OutboxFiles.deliveryId(file), "outbox", file.toString(), "mailgate-outbox");
        // a temporary failure before the hand-off leaves the file where it is, for a later poll
        DeliveryExchange.canWait(exchange, true);
        Optional<OutboxEntries.Refusal> refusal = OutboxEntries.refusal(file);
        if (refusal.isPresent()) {
            throw new KnownFailure(refusal.get().failure(file));
        }
    }

    /**
     * A {@code *.json} request or {@code *.eml} message, read from a copy taken without following links (the file
     * itself may be swapped meanwhile) and validated, every problem reported at once. The body is the request.
     */
    public void read(Exchange exchange) throws IOException {
        Path file = file(exchange);
        Path copy = snapshot(exchange, file);
        try {
            MailRequest request;
            if (file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".eml")) {
                // the copy is what is sent, from the queue's attachment folder
                request = validator.readAndValidate(() -> MailRequestReader.fromEml(copy));
            } else {
                try {
                    request = validator.readAndValidate(() -> {
                        try (InputStream in = Files.newInputStream(copy)) {
                            return MailRequestReader.fromJson(in, attachments, validator.limits().maxMessageBytes());
                        }
                    });
                } finally {
                    discard(copy);
                }
            }
            exchange.getIn().setBody(request);
        } catch (IOException | RuntimeException e) {
            abandon(exchange, copy);
            throw e;
        }
    }

    /**
     * Admission: a repeat of an idempotency key, or a file that was sent before, goes to {@code .sent/} with a
     * duplicate receipt, and the route stops there; anything else goes on to the hand-off.
     */
    public void admit(Exchange exchange) throws IOException {
        Path file = file(exchange);
        Path copy = exchange.getProperty(COPY, Path.class);
        try {
            String id = DeliveryExchange.id(exchange);
            // who may write to this folder is the principal: its idempotency keys are its own
            DeliveryExchange.principal(exchange, "outbox:" + file.toAbsolutePath().normalize().getParent());
            Optional<String> earlier = Admission.repeatOf(journal, exchange, request(exchange), true);
            if (earlier.isPresent()) {
                LOG.info("Not sending {} again: it repeats delivery {}", DeliveryExchange.source(exchange),
                        earlier.get());
                // only this reading's copy: an earlier copy of the same file may still wait on the queue
                discard(copy);
                files.duplicate(file, earlier.get(), earlier.get().equals(id));
                // the file is taken care of: nothing after this step is for it
                exchange.setRouteStop(true);
            }
        } catch (IOException | RuntimeException e) {
            abandon(exchange, copy);
            throw e;
        }
    }

    /**
     * Removes what this reading of a file wrote (its copy, the attachments copied next to it) when the request did not
     * reach the queue: a file that fails as temporary is read again at a later poll, and must not leave a copy behind
     * each time. Not once the request was handed to the queue, even when that failed: the broker may have stored it
     * after all, and its consumer would need the files.
     */
    private static void abandon(Exchange exchange, Path copy) {
        if (exchange.getProperty(HANDED_TO_QUEUE, false, Boolean.class)) {
            return;
        }
        Path attempt = copy.getParent();
        try (Stream<Path> written = Files.walk(attempt)) {
            written.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    LOG.debug("Could not remove {}: {}", p, e.toString());
                }
            });
        } catch (NoSuchFileException e) {
            // removed already
        } catch (IOException | UncheckedIOException e) {
            LOG.debug("Could not remove {}: {}", attempt, e.toString());
        }
    }

    /** Removes a copy taken by {@link OutboxEntries#snapshot} that is not needed (any more). */
    private static void discard(Path copy) {
        try {
            Files.deleteIfExists(copy);
            Files.deleteIfExists(copy.getParent());
        } catch (IOException e) {
            LOG.debug("Could not remove {}: {}", copy, e.toString());
        }
    }

    /**
     * Reads plain files into mails as the route describes them. The route's own settings are checked now, when
     * the route is created: a wrong recipient in {@code routes/*.yaml} stops start-up with the parameter named,
     * instead of failing every file.
     */
    public Processor fileReader(String folder, String from, String to, String cc, String bcc, String subject,
            String text, String template) {
        return fileReader(folder, new MailRequestReader.FileMail(blankToNull(from), addresses(to), addresses(cc),
                addresses(bcc), blankToNull(subject), blankToNull(text), blankToNull(template), Map.of()));
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.trim();
    }

    /** Comma-separated addresses; what does not parse is left to the validator to name. */
    private static List<String> addresses(String value) {
        if (blankToNull(value) == null) {
            return List.of();
        }
        try {
            return Arrays.stream(InternetAddress.parse(value, false)).map(InternetAddress::toUnicodeString).toList();
        } catch (AddressException e) {
            return Arrays.stream(value.split("[,;]")).map(String::trim).filter(v -> !v.isEmpty()).toList();
        }
    }

    private Processor fileReader(String folder, MailRequestReader.FileMail route) {
        try {
            Path sample = Files.createTempFile("mailgate-route-check", ".pdf");
            try {
                validator.validate(forFile(sample, route));
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
            Path file = file(exchange);
            // the copy is the attachment, under the file's own name
            Path copy = snapshot(exchange, file);
            try {
                exchange.getIn().setBody(validator.validate(forFile(copy, route)));
            } catch (RuntimeException e) {
                abandon(exchange, copy);
                throw e;
            }
        };
    }

    private MailRequest forFile(Path file, MailRequestReader.FileMail route) {
        MailRequest request = MailRequestReader.forFile(file, route);
        return route.subject() == null ? request
                : request.withSubject(renderer.renderInline("subject", route.subject(), request.data()));
    }

    /**
     * The request as the queue carries it: JSON, its attachments next to the file's copy (all that this reading wrote
     * is in one folder), and Mailgate's signed properties naming the file's place in {@code .queued/}. The next step
     * sends it to the queue; from here on its files are the queue's (see {@link #abandon}).
     */
    public void prepareHandOff(Exchange exchange) throws IOException {
        Path copy = exchange.getProperty(COPY, Path.class);
        String json;
        Path place;
        try {
            json = MailRequestWriter.toJson(request(exchange), uploads.root(), copy.getParent());
            place = files.queuedPlace(file(exchange));
        } catch (IOException | RuntimeException e) {
            abandon(exchange, copy);
            throw e;
        }
        exchange.setProperty(HANDED_TO_QUEUE, true);
        exchange.setProperty(PLACE, place);
        exchange.getIn().setBody(json);
        // beside the file's Camel* headers, which the JMS endpoint does not send
        signer.properties(new QueuedRequest.Stamp(DeliveryExchange.id(exchange), place.toString(), null, null), json)
                .forEach(exchange.getIn()::setHeader);
    }

    /**
     * The request is on the queue: the file moves to {@code .queued/} until its outcome moves it on. A crash before
     * the move leaves the file in the outbox: read again, it keeps its delivery id, and the journal stops the second
     * copy from being sent twice.
     */
    public void queued(Exchange exchange) {
        Path file = file(exchange);
        String id = DeliveryExchange.id(exchange);
        try {
            files.queue(file, exchange.getProperty(PLACE, Path.class));
        } catch (NoSuchFileException e) {
            // read again after a crash, while the copy queued before the crash was sent and took the file along
            LOG.info("{} [{}] was finished by its earlier copy on the queue meanwhile", DeliveryExchange.source(exchange),
                    id);
            return;
        } catch (IOException e) {
            // the request is on the queue and will be sent: failing it now would give it two outcomes. The file waits
            // where it is, as after a crash at this point, and its outcome moves it from there
            LOG.warn("{} [{}] is queued, but could not be moved to {}/ ({}); it waits in its folder until its outcome "
                    + "moves it", DeliveryExchange.source(exchange), id, OutboxFiles.QUEUED,
                    Text.printable(e.toString()));
            return;
        }
        LOG.debug("{} [{}] queued; the file waits in {}", file, id, exchange.getProperty(PLACE, Path.class));
    }

    private Path snapshot(Exchange exchange, Path file) throws IOException {
        Path copy = entries.snapshot(file, uploads.folder(DeliveryExchange.id(exchange)));
        exchange.setProperty(COPY, copy);
        return copy;
    }

    private static Path file(Exchange exchange) {
        return Path.of(exchange.getIn().getHeader(Exchange.FILE_PATH, String.class));
    }

    private static MailRequest request(Exchange exchange) throws IOException {
        try {
            return exchange.getIn().getMandatoryBody(MailRequest.class);
        } catch (org.apache.camel.InvalidPayloadException e) {
            throw new IllegalStateException("the step before left no MailRequest: " + e.getMessage(), e);
        }
    }

    /**
     * The request failed before it reached the queue (unreadable, invalid, or the queue was not available): the file
     * moves to {@code .failed/} with its error file ({@code direct:mailgate-outbox-failed}).
     */
    public void failed(Exchange exchange) {
        String id = DeliveryExchange.id(exchange);
        files.failed(file(exchange), id, DeliveryExchange.attempts(exchange), DeliveryExchange.failure(exchange));
        uploads.delete(id);
    }
}
