package dev.mailgate.channel.http;

import java.util.Locale;
import java.util.regex.Pattern;

import jakarta.mail.internet.ContentType;
import jakarta.mail.internet.ParseException;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;

/**
 * The media types the API takes for a MailRequest, parsed as media types (RFC 9110: type and subtype matched exactly
 * and case-insensitively, parameters allowed), not matched as text: {@code application/json} (UTF-8, the only
 * charset JSON has) and {@code multipart/form-data} with a valid boundary (RFC 2046: 1 to 70 characters of a fixed
 * set). {@code application/jsonx} is not JSON; {@code Multipart/Form-Data} is multipart.
 * <p>
 * {@link #check()} runs before Vert.x reads the body, because the libraries below match loosely and differently:
 * Vert.x' body handler lowercases the header, but Netty's {@code HttpPostRequestDecoder.isMultipart} compares it
 * case-sensitively (so {@code Multipart/Form-Data} was decoded as a URL-encoded form and its parts lost), and Netty
 * fails with a {@code StringIndexOutOfBoundsException} (a 500) on an empty {@code boundary=}. A request that passes
 * has its {@code Content-Type} rewritten to the one canonical form, which every one of them reads the same way.
 */
final class MediaTypes {

    /** What a request's body is. */
    enum Kind { JSON, MULTIPART }

    /** A body the API takes: its kind, and the boundary of a multipart form. */
    record Declared(Kind kind, String boundary) {
        /** The one spelling of this media type that Vert.x, Netty and Camel all read the same way. */
        String canonical() {
            return kind == Kind.JSON ? "application/json" : "multipart/form-data; boundary=\"" + boundary + "\"";
        }
    }

    /** RFC 2046 section 5.1.1: {@code bchars}, 1 to 70 of them, not ending in a space. */
    private static final Pattern BOUNDARY = Pattern.compile("[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]");
    private static final String ACCEPTED = "send the MailRequest as application/json, or as multipart/form-data with "
            + "a 'request' part and the files as further parts";

    private MediaTypes() {
    }

    /** A {@code Content-Type} the API does not take, with the status and the words of its answer. */
    static final class Refused extends RuntimeException {
        final int status;

        Refused(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    /**
     * What {@code header} declares, for a body the API takes.
     *
     * @throws Refused 415 for another media type (or none), 400 for a multipart form without a usable boundary or a
     *         media type whose parameters cannot be read
     */
    static Declared of(String header) {
        if (header == null || header.isBlank()) {
            throw new Refused(415, "the request has no Content-Type; " + ACCEPTED);
        }
        ContentType type;
        try {
            type = new ContentType(header);
        } catch (ParseException e) {
            // what was meant, from the part before the parameters, decides between "malformed" and "not taken"
            String essence = header.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
            if (essence.equals("multipart/form-data")) {
                throw new Refused(400, "the Content-Type's parameters cannot be read; send multipart/form-data; "
                        + "boundary=<1 to 70 letters, digits or '()+_,-./:=?>");
            }
            if (essence.equals("application/json")) {
                throw new Refused(400, "the Content-Type's parameters cannot be read; send application/json");
            }
            throw new Refused(415, "the Content-Type is not a media type the API takes; " + ACCEPTED);
        }
        if (type.match("application/json")) {
            String charset = type.getParameter("charset");
            if (charset != null && !charset.equalsIgnoreCase("utf-8")) {
                throw new Refused(415, "JSON is read as UTF-8 only (RFC 8259); send application/json or "
                        + "application/json; charset=utf-8");
            }
            return new Declared(Kind.JSON, null);
        }
        if (type.match("multipart/form-data")) {
            String boundary = type.getParameter("boundary");
            if (boundary == null || !BOUNDARY.matcher(boundary).matches()) {
                throw new Refused(400, "the multipart/form-data Content-Type needs a boundary of 1 to 70 letters, "
                        + "digits or '()+_,-./:=? ' (RFC 2046); this one is "
                        + (boundary == null ? "missing" : boundary.isEmpty() ? "empty"
                                : boundary.length() > 70 ? boundary.length() + " characters long"
                                        : "made of other characters"));
            }
            return new Declared(Kind.MULTIPART, boundary);
        }
        throw new Refused(415, "the Content-Type is not a media type the API takes; " + ACCEPTED);
    }

    /**
     * The Vert.x handler in front of the body handler on {@code POST /api/v1/messages}: a body the API does not take
     * is answered at once with a problem document (its parts never reach the disk), one it takes goes on with its
     * {@code Content-Type} in the canonical form.
     */
    static Handler<RoutingContext> check() {
        return context -> {
            Declared declared;
            try {
                declared = of(context.request().getHeader(HttpHeaders.CONTENT_TYPE));
            } catch (Refused e) {
                Problems.answer(context, e.status, e.status == 415 ? "unsupported-media-type" : "bad-request",
                        e.status == 415 ? "Unsupported content type" : "Bad request", e.getMessage());
                return;
            }
            context.request().headers().set(HttpHeaders.CONTENT_TYPE, declared.canonical());
            context.next();
        };
    }
}
