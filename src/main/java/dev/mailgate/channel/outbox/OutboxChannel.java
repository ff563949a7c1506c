package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.ProducerTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.channel.QueuedRequest;
import dev.mailgate.channel.Uploads;
import dev.mailgate.config.ConfigurationException;
import dev.mailgate.outcome.Admission;
import dev.mailgate.outcome.DeliveryExchange;
import dev.mailgate.outcome.Failure;
import dev.mailgate.outcome.Journal;
import dev.mailgate.outcome.KnownFailure;
import dev.mailgate.outcome.OutcomeHandler;
import dev.mailgate.outcome.Receipt;
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
public final class OutboxChannel implements OutcomeHandler {

    private static final Logger LOG = LoggerFactory.getLogger(OutboxChannel.class);
    /** Set once the request is given to the queue: from then on its files may be needed by the queue's consumer. */
    private static final String HANDED_TO_QUEUE = "mailgate.outboxHandedToQueue";

    private final AttachmentRoot attachments;
    private final TemplateRenderer renderer;
    private final MailRequestValidator validator;
    private final Journal journal;
    private final OutboxEntries entries;
    private final OutboxFiles files;
    private final Uploads uploads;
    private final ProducerTemplate producer;
    private final String queueUri;
    private final QueuedRequest signer;

    public OutboxChannel(AttachmentRoot attachments, TemplateRenderer renderer, MailRequestValidator validator,
            Journal journal, OutboxEntries entries, OutboxFiles files, Uploads uploads, ProducerTemplate producer,
            String queue, QueuedRequest signer) {
        this.signer = signer;
        this.attachments = attachments;
        this.renderer = renderer;
        this.validator = validator;
        this.journal = journal;
        this.entries = entries;
        this.files = files;
        this.uploads = uploads;
        this.producer = producer;
        this.queueUri = "jms:queue:" + queue;
    }

    /** A {@code *.json} request or {@code *.eml} message, read and validated (every problem reported at once). */
    public void readRequest(Exchange exchange) throws IOException {
        Path file = begin(exchange);
        // read from a copy taken without following links: the file itself may be swapped meanwhile
        Path copy = entries.snapshot(file, uploads.folder(DeliveryExchange.id(exchange)));
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
            handOff(exchange, file, request, copy);
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
    public Processor fileReader(String folder, MailRequestReader.FileMail route) {
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
            Path file = begin(exchange);
            // the copy is the attachment, under the file's own name
            Path copy = entries.snapshot(file, uploads.folder(DeliveryExchange.id(exchange)));
            try {
                handOff(exchange, file, validator.validate(forFile(copy, route)), copy);
            } catch (IOException | RuntimeException e) {
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
     * Records the request as queued and puts it on the queue, then moves the file to {@code .queued/}. A repeat of an
     * idempotency key, or a file that was sent before, goes to {@code .sent/} with a duplicate receipt instead.
     * A crash between the send and the move leaves the file in the outbox: read again, it keeps its delivery id,
     * and the journal stops the second copy from being sent twice.
     */
    private void handOff(Exchange exchange, Path file, MailRequest request, Path copy) throws IOException {
        queue(exchange, file, request, copy);
        // only once the file is taken care of: Camel drops an exception thrown after setRouteStop(true) without
        // calling the error handler, which left a file whose hand-off failed (e.g. its attachment was swapped for a
        // link before the copy) in the outbox, with no log line and never taken again
        exchange.setRouteStop(true);
    }

    private void queue(Exchange exchange, Path file, MailRequest request, Path copy) throws IOException {
        String id = DeliveryExchange.id(exchange);
        // who may write to this folder is the principal: its idempotency keys are its own
        DeliveryExchange.principal(exchange, "outbox:" + file.toAbsolutePath().normalize().getParent());
        Optional<String> earlier = Admission.repeatOf(journal, exchange, request, true);
        if (earlier.isPresent()) {
            LOG.info("Not sending {} again: it repeats delivery {}", DeliveryExchange.source(exchange), earlier.get());
            // only this reading's copy: an earlier copy of the same file may still wait on the queue
            discard(copy);
            files.duplicate(file, earlier.get(), earlier.get().equals(id));
            return;
        }
        // the attachments go next to the file's copy: all that this reading wrote is in one folder
        String json = MailRequestWriter.toJson(request, uploads.root(), copy.getParent());
        Path place = files.queuedPlace(file);
        exchange.setProperty(HANDED_TO_QUEUE, true);
        producer.sendBodyAndHeaders(queueUri, json, signer.properties(new QueuedRequest.Stamp(id, place.toString(),
                null, null), json));
        try {
            files.queue(file, place);
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
        LOG.debug("{} [{}] queued; the file waits in {}", file, id, place);
    }

    /**
     * Starts the request's delivery; refuses, without opening it, an entry that is not a plain file of its own (a
     * link, a FIFO, a folder): it fails with what it is, and its error file names it.
     */
    private Path begin(Exchange exchange) throws IOException {
        Path file = Path.of(exchange.getIn().getHeader(Exchange.FILE_PATH, String.class));
        DeliveryExchange.begin(exchange, OutboxFiles.deliveryId(file), "outbox", file.toString(), this);
        Optional<OutboxEntries.Refusal> refusal = OutboxEntries.refusal(file);
        if (refusal.isPresent()) {
            throw new KnownFailure(refusal.get().failure(file));
        }
        return file;
    }

    /** Not reached: outbox requests are sent from the queue, and their outcome recorded there. */
    @Override
    public void sent(Exchange exchange, Receipt receipt) {
        files.sent(Path.of(exchange.getIn().getHeader(Exchange.FILE_PATH, String.class)), receipt);
    }

    /** The request failed before it reached the queue: unreadable, invalid, or the queue was not available. */
    @Override
    public void failed(Exchange exchange, Failure failure) {
        String id = DeliveryExchange.id(exchange);
        files.failed(Path.of(exchange.getIn().getHeader(Exchange.FILE_PATH, String.class)), id,
                DeliveryExchange.attempts(exchange), failure);
        uploads.delete(id);
    }
}
