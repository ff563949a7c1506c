package dev.mailgate.auth;

/**
 * No access token could be obtained. The message is one line that says what is wrong and what to do;
 * it never contains a secret or a token.
 */
public class TokenException extends RuntimeException {

    public enum Kind {
        /** Entra ID could not be reached or was overloaded: worth trying again later. */
        UNREACHABLE,
        /** Entra ID refused the request: the tenant, app or credential is wrong and needs a person. */
        REJECTED
    }

    private final Kind kind;
    private final String advice;

    public TokenException(Kind kind, String message) {
        this(kind, message, null);
    }

    /** @param advice what to do about it, when the message's own words are not enough on their own */
    public TokenException(Kind kind, String message, String advice) {
        super(message, null, false, false);
        this.kind = kind;
        this.advice = advice;
    }

    public Kind kind() {
        return kind;
    }

    /** The fix alone (the message says it too), or {@code null}. */
    public String advice() {
        return advice;
    }
}
