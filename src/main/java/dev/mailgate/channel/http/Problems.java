package dev.mailgate.channel.http;

import java.util.List;

import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.multipart.HttpPostRequestDecoder;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.mailgate.request.Problem;

/**
 * Error answers in the RFC 9457 problem-details format ({@code application/problem+json}); never a stack trace, never
 * the request's own bytes. Besides the API's own answers this shapes the ones Vert.x gives before or around our code
 * ({@link #install}): left alone, Vert.x Web answers a failure no handler takes with its status line as plain text
 * ({@code Bad Request}, {@code Internal Server Error}), a path no route has with an HTML page, and Vert.x core a
 * request head it cannot parse with an empty body.
 */
final class Problems {

    static final String CONTENT_TYPE = "application/problem+json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(Problems.class);
    /** The statuses Vert.x Web may answer by itself; 401 is {@link ApiKeyAuthentication}'s own. */
    private static final List<Integer> VERTX_STATUSES = List.of(400, 403, 404, 405, 406, 408, 409, 411, 412, 413, 414,
            415, 416, 417, 422, 429, 431, 500, 501, 502, 503, 504);

    private Problems() {
    }

    static String of(int status, String type, String title, String detail) {
        return body(status, type, title, detail, List.of());
    }

    static String body(int status, String type, String title, String detail, List<Problem> errors) {
        ObjectNode problem = JSON.createObjectNode()
                .put("type", "urn:mailgate:problem:" + type)
                .put("title", title)
                .put("status", status)
                .put("detail", detail);
        if (!errors.isEmpty()) {
            ArrayNode list = problem.putArray("errors");
            errors.forEach(e -> list.addObject().put("field", e.field()).put("message", e.message()));
        }
        try {
            return JSON.writeValueAsString(problem);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** How long the rest of a refused request's body is read and dropped before its connection is closed anyway. */
    private static final java.time.Duration LINGER = java.time.Duration.ofSeconds(2);

    /**
     * Answers {@code status} with a problem document. While the request's body is still coming (an error found at
     * its start) the connection is closed once the answer is written and the client has stopped sending (see
     * {@link #lingerThenClose}), so that nothing more is read for a request already refused.
     */
    static void answer(RoutingContext context, int status, String type, String title, String detail) {
        HttpServerResponse response = context.response();
        if (response.ended() || response.closed()) {
            return;
        }
        if (response.headWritten()) {
            // half an answer went out already: nothing valid can follow it
            context.request().connection().close();
            return;
        }
        boolean unread = !context.request().isEnded();
        response.setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, CONTENT_TYPE);
        if (unread) {
            response.putHeader(HttpHeaders.CONNECTION, "close");
        }
        response.end(of(status, type, title, detail)).onComplete(written -> {
            if (unread) {
                lingerThenClose(context);
            }
        });
    }

    /**
     * Closes the connection of a refused request once its client has stopped sending, reading and dropping the rest
     * of the body for at most {@link #LINGER}. Closing at once was wrong: a socket closed with unread bytes in its
     * receive buffer sends a TCP reset, which can destroy the answer before the client reads it (the JDK's HttpClient
     * then reports "header parser received no bytes" instead of the 413). Vert.x itself lingers the same way for a
     * request that asked for {@code Connection: close} ({@code Http1xServerConnection.onEnd}).
     */
    private static void lingerThenClose(RoutingContext context) {
        var request = context.request();
        if (request.isEnded()) {
            request.connection().close();
            return;
        }
        long timer = context.vertx().setTimer(LINGER.toMillis(), t -> request.connection().close());
        request.endHandler(v -> {
            context.vertx().cancelTimer(timer);
            request.connection().close();
        });
        request.handler(dropped -> {
        });
        request.resume();
    }

    /**
     * Problem documents for what Vert.x Web would otherwise answer by itself on {@code router}: failures of its body
     * handler (a malformed multipart body, too many parts, a body over the limit), paths and methods no route takes,
     * and faults no handler caught. Vert.x Web asks the mounted router's error handlers (by status) once the failure
     * or the missing route has gone through all of its routes; without one it logs "Unhandled exception in router"
     * with a stack trace and answers its status line as plain text.
     */
    static void install(Router router, long maxBodyBytes, int maxParts) {
        for (int status : VERTX_STATUSES) {
            router.errorHandler(status, context -> vertxError(context, status, maxBodyBytes, maxParts));
        }
    }

    private static void vertxError(RoutingContext context, int given, long maxBodyBytes, int maxParts) {
        Throwable failure = context.failure();
        int status = given;
        if (context.response().ended() || context.response().closed()) {
            // answered already: the body handler fails once more for every upload it still had open ("Pipe
            // closed") after the first failure, or the client went away
            LOG.debug("HTTP {} {} failed after its answer: {}", context.request().method().name(),
                    context.request().path(), failure == null ? status : failure.toString());
            return;
        }
        if (isAbortedUpload(failure)) {
            cancelUploads(context);
            failure = lostBodyFailure(context, maxBodyBytes, maxParts);
            status = failure == null ? 400 : 413;
        }
        if (failure instanceof HttpPostRequestDecoder.TooManyFormFieldsException) {
            answer(context, 413, "too-many-parts", "Too many parts", "the multipart form has more than " + maxParts
                    + " parts (mailgate.http.max-parts); send fewer files in one request");
        } else if (failure instanceof HttpPostRequestDecoder.TooLongFormFieldException
                // a form field over Vert.x' maxFormAttributeSize (8 KB): Netty's AbstractHttpData.checkSize throws a
                // bare IOException with this text, nothing more specific to tell it by
                || failure instanceof java.io.IOException && String.valueOf(failure.getMessage())
                        .startsWith("Size exceed allowed maximum capacity")) {
            answer(context, 413, "form-field-too-large", "Form field too large", "a form field without a file name "
                    + "is limited to 8 KB; send the request JSON as a file part (curl -F "
                    + "'request=@request.json;type=application/json')");
        } else if (status == 413) {
            answer(context, 413, "body-too-large", "Body too large", "the body is larger than "
                    + maxBodyBytes / (1024 * 1024) + " MB (mailgate.http.max-body-size)");
        } else if (status == 400) {
            LOG.debug("HTTP request refused as unreadable: {}", failure == null ? "-" : failure.getClass().getName());
            answer(context, 400, "bad-request", "Bad request", "the request or its body cannot be read (a malformed "
                    + "multipart form, or a body that does not match its Content-Type); nothing was accepted");
        } else if (status == 404) {
            answer(context, 404, "not-found", "Not found", "there is nothing at this path; the API is described at "
                    + "/api/v1/openapi.yaml");
        } else if (status == 405) {
            answer(context, 405, "method-not-allowed", "Method not allowed", "this path does not take "
                    + context.request().method().name());
        } else if (status >= 500) {
            LOG.error("HTTP {} {} failed inside Mailgate", context.request().method().name(),
                    context.request().path(), failure);
            answer(context, status, "internal-error", "Internal error", "nothing was accepted; send the request "
                    + "again (the gateway's log has the details)");
        } else {
            String title = HttpResponseStatus.valueOf(status).reasonPhrase();
            answer(context, status, title.toLowerCase(java.util.Locale.ROOT).replace(' ', '-'), title,
                    "the request was refused: " + title);
        }
    }

    /**
     * An upload Vert.x Web cancelled because the body failed ({@code HttpServerFileUploadImpl} fails its future with
     * "Streaming aborted", or with "Pipe closed" when the cancel closed its pipe mid-file). It is not the failure
     * itself: Vert.x 4.5's {@code BodyHandlerImpl} cancels every upload before it reports why the body failed, and
     * when one upload's file has just been closed but not yet handed over, that cancel throws ({@code IllegalStateException: File handle is closed}, logged by Vert.x as an unhandled
     * exception) and the real failure (too many parts, a body over the limit) is never reported; the cancelled
     * upload's failure then arrives alone, as a 500.
     */
    private static boolean isAbortedUpload(Throwable failure) {
        return failure != null
                && ("Streaming aborted".equals(failure.getMessage()) || "Pipe closed".equals(failure.getMessage()));
    }

    /**
     * What Vert.x' own cancel did not finish after the throw: each upload is cancelled (its file is then deleted when
     * its stream ends) or, when it was complete, its file deleted; the one whose file was closed under the cancel
     * throws again and is passed over (its file is deleted by its own aborted stream).
     */
    private static void cancelUploads(RoutingContext context) {
        for (var upload : List.copyOf(context.fileUploads())) {
            try {
                if (!upload.cancel()) {
                    upload.delete();
                }
            } catch (IllegalStateException closedUnderTheCancel) {
                // the same race as Vert.x' own: nothing left to cancel
            }
        }
    }

    /**
     * The body failure an {@linkplain #isAbortedUpload aborted upload} stands for, told from what the request shows:
     * as many parts as the limit allows (Netty refuses the one after), a body read past the size limit, or else
     * {@code null}, a body that could not be read.
     */
    private static Throwable lostBodyFailure(RoutingContext context, long maxBodyBytes, int maxParts) {
        HttpServerRequest request = context.request();
        if (context.fileUploads().size() + request.formAttributes().size() >= maxParts) {
            return new HttpPostRequestDecoder.TooManyFormFieldsException();
        }
        if (request.bytesRead() > maxBodyBytes) {
            return new java.io.IOException("body over mailgate.http.max-body-size");
        }
        return null;
    }

    /**
     * Vert.x core's answer to a request head it cannot parse (a request line or headers over its limits, or no HTTP at
     * all), as its default handler decides it but with a problem document; the connection is closed after it.
     */
    static void invalidRequest(HttpServerRequest request) {
        Throwable cause = request.decoderResult().cause();
        String message = cause instanceof TooLongFrameException ? String.valueOf(cause.getMessage()) : "";
        int status = message.startsWith("An HTTP line is larger than") ? 414
                : message.startsWith("HTTP header is larger than") ? 431 : 400;
        if (status == 400 && cause == null) {
            // nothing to answer: Netty could not even read a request line
            request.connection().close();
            return;
        }
        String title = HttpResponseStatus.valueOf(status).reasonPhrase();
        request.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, CONTENT_TYPE)
                .putHeader(HttpHeaders.CONNECTION, "close")
                .end(of(status, status == 400 ? "bad-request" : status == 414 ? "uri-too-long" : "headers-too-large",
                        title, status == 414 ? "the request line is too long" : status == 431 ? "the request's "
                                + "headers are too large" : "the request head is not valid HTTP/1.1"));
    }
}
