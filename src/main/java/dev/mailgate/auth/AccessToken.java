package dev.mailgate.auth;

import java.time.Duration;
import java.time.Instant;

/**
 * An OAuth2 access token and when it expires. {@link #toString()} never shows the token: it is a
 * bearer credential, and anything printed may end up in a log, a receipt or a bug report.
 */
public record AccessToken(String value, Instant expiresAt) {

    public Duration remainingAt(Instant now) {
        return Duration.between(now, expiresAt);
    }

    /** The token's first characters, enough to tell tokens apart in a transcript: {@code eyJ…(redacted)}. */
    public static String redact(String token) {
        if (token == null || token.isEmpty()) {
            return "(none)";
        }
        return token.substring(0, Math.min(3, token.length())) + "…(redacted)";
    }

    @Override
    public String toString() {
        return "AccessToken[" + redact(value) + ", expires " + expiresAt + "]";
    }
}
