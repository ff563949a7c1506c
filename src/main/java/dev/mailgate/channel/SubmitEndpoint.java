package dev.mailgate.channel;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Map;
import java.util.UUID;

import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.outcome.Journal;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestReader;
import dev.mailgate.request.MailRequestValidator;

/**
 * {@value #URI}: where a user's own route (a file under {@code routes/}) hands a MailRequest to Mailgate. The body may
 * be MailRequest JSON (text or bytes), a {@code Map} of its fields, or a {@link MailRequest}. It is validated with the
 * {@code route} channel's sender rules, recorded in the journal (principal {@code route:<the caller's route id>},
 * whose idempotency keys are its own) and put on the durable queue; the answer is the delivery id, in the body and
 * the {@value #ID_HEADER} header. An invalid request throws {@code InvalidRequestException} naming every field, and
 * a journal or queue that is down throws {@link Submission.Unavailable}: both reach the calling route's error
 * handling, so nothing is accepted half-way and nothing is lost silently.
 */
public final class SubmitEndpoint {

    public static final String URI = "direct:mailgate-submit";
    /** The bean whose methods are the steps of {@code mailgate/mailgate-submit.yaml}. */
    public static final String BEAN = "mailgateSubmit";
    public static final String ID_HEADER = "MailgateId";
    /** {@code true} when an earlier request with the same idempotency key was found, and this one not queued again. */
    public static final String REPEAT_HEADER = "MailgateRepeat";

    private static final Logger LOG = LoggerFactory.getLogger(SubmitEndpoint.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String WHERE = "the JMS attachments folder (mailgate.jms.attachments-dir)";

    private final MailRequestValidator validator;
    private final Uploads uploads;
    private final AttachmentRoot attachments;
    private final Submission submission;

    public SubmitEndpoint(MailRequestValidator validator, Uploads uploads, Submission submission) {
        this.validator = validator;
        this.uploads = uploads;
        this.submission = submission;
        // a route's attachment paths are relative to the same folder as a JMS client's, with the same reserve
        this.attachments = new AttachmentRoot(uploads.root(), WHERE).reserving(Uploads::isRequestFolder, "is in a "
                + "folder Mailgate keeps for a request it queued itself (named by its delivery id); attach files "
                + "from a folder of your own in " + WHERE);
    }

    /** The body (JSON text or bytes, a Map of the fields, or a MailRequest) as a valid request with the route's rules. */
    public void validate(Exchange exchange) throws IOException {
        exchange.getMessage().setBody(read(exchange, exchange.getMessage().getBody()));
    }

    /** Journaled under the calling route's principal and put on the durable queue; answers with the delivery id. */
    public void admitAndQueue(Exchange exchange) throws IOException, org.apache.camel.InvalidPayloadException {
        String caller = exchange.getFromRouteId() == null ? "route" : exchange.getFromRouteId();
        String id = UUID.randomUUID().toString();
        Journal.Ref ref = new Journal.Ref(id, "route", "route " + caller, "route:" + caller);
        MailRequest request = exchange.getMessage().getMandatoryBody(MailRequest.class);
        try {
            Submission.Accepted accepted = submission.submit(ref, request);
            if (accepted.repeat()) {
                uploads.delete(id);
                LOG.info("Route {}: request {} repeats {} (same idempotencyKey); not queued again", caller, id,
                        accepted.id());
            } else {
                LOG.info("Route {}: accepted request {} for {} recipient(s); queued on {}", caller, id,
                        request.recipientCount(), submission.queueUri());
            }
            exchange.getMessage().setBody(accepted.id());
            exchange.getMessage().setHeader(ID_HEADER, accepted.id());
            exchange.getMessage().setHeader(REPEAT_HEADER, accepted.repeat());
        } catch (Submission.Unavailable e) {
            if (!e.keepFiles()) {
                uploads.delete(id);
            }
            throw e;
        } catch (IOException | RuntimeException e) {
            uploads.delete(id);
            throw e;
        }
    }

    private MailRequest read(Exchange exchange, Object body) throws IOException {
        if (body instanceof MailRequest request) {
            return validator.validate(request);
        }
        byte[] json = body instanceof Map<?, ?> map ? JSON.writeValueAsBytes(map)
                : exchange.getContext().getTypeConverter().convertTo(byte[].class, body);
        if (json == null) {
            throw new dev.mailgate.request.InvalidRequestException("(request)", "the body of the message sent to "
                    + URI + " is " + (body == null ? "empty" : "a " + body.getClass().getSimpleName()) + "; send "
                    + "MailRequest JSON (text or bytes), a Map of its fields or a MailRequest");
        }
        return validator.readAndValidate(() -> MailRequestReader.fromJson(new ByteArrayInputStream(json), attachments,
                validator.limits().maxMessageBytes()));
    }
}
