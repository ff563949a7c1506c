package dev.mailgate.request;

/**
 * One thing wrong with a request: the field path in the request's own terms ({@code to[1]},
 * {@code attachments[0].path}) and a plain-words message that says what to do.
 */
public record Problem(String field, String message) {

    @Override
    public String toString() {
        return field + ": " + message;
    }
}
