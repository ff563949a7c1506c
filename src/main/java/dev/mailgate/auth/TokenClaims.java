package dev.mailgate.auth;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.config.Cloud;

/**
 * What an Entra ID access token says about itself: the claims of its (unverified) JWT payload. Read to explain
 * a token to an operator, never to trust it: Exchange Online checks the signature.
 *
 * @param audience {@code aud}
 * @param roles    {@code roles}: application permissions granted in Entra ID with admin consent (the classic setup);
 *                 none when Exchange grants the app through RBAC for Applications
 * @param scopes   {@code scp}: delegated permissions (a user's token, not what Mailgate asks for)
 * @param tenantId {@code tid}
 * @param appId    {@code appid} (v1 tokens) or {@code azp} (v2)
 */
public record TokenClaims(String audience, List<String> roles, List<String> scopes, String tenantId, String appId,
        String appName, Instant issuedAt, Instant expiresAt) {

    public static final String EXCHANGE_APP_ID = Cloud.EXCHANGE_APP_ID;
    public static final String SEND_AS_APP = "SMTP.SendAsApp";
    public static final String SEND = "SMTP.Send";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A problem with what the token grants, and what to do about it. */
    public record Problem(String claim, String finding, String fix) {
    }

    /**
     * The claims of {@code token}, or empty when it is not a readable JWT (Entra may issue opaque tokens for some
     * resources; Exchange Online's are JWTs).
     */
    public static Optional<TokenClaims> of(String token) {
        String[] parts = token == null ? new String[0] : token.split("\\.");
        if (parts.length != 3) {
            return Optional.empty();
        }
        try {
            JsonNode claims = JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
            if (!claims.isObject()) {
                return Optional.empty();
            }
            String appId = claims.hasNonNull("appid") ? claims.get("appid").asText() : claims.path("azp").asText("");
            return Optional.of(new TokenClaims(audience(claims.path("aud")), strings(claims.path("roles")),
                    scopes(claims.path("scp")), claims.path("tid").asText(""), appId,
                    claims.path("app_displayname").asText(""), instant(claims.path("iat")),
                    instant(claims.path("exp"))));
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Whether the token is for Exchange Online in {@code cloud}. */
    public boolean audienceIsExchange(Cloud cloud) {
        return cloud.isExchange(audience);
    }

    /**
     * Why this token will not open an SMTP session for the app configured with {@code clientId} in
     * {@code tenantId} (a GUID, or a domain that cannot be compared) in {@code cloud}, or nothing.
     */
    public List<Problem> problems(String configuredClientId, String configuredTenant, Cloud cloud) {
        List<Problem> problems = new ArrayList<>();
        // a token for another resource never carries Exchange's roles: its audience is the one thing to fix
        boolean exchange = audienceIsExchange(cloud);
        Optional<Cloud> other = exchange ? Optional.empty() : Cloud.ofAudience(audience);
        if (other.isPresent()) {
            problems.add(new Problem("aud", "the token is for Exchange Online in the " + other.get().key()
                    + " cloud (" + audience + "), not the configured " + cloud.key() + " cloud ("
                    + cloud.exchangeResource() + ")", "set mailgate.cloud=" + other.get().key() + " if the tenant is "
                            + "there, or else mailgate.entra.scope=" + cloud.scope()));
        } else if (!exchange) {
            problems.add(new Problem("aud", "the token is for " + (audience.isEmpty() ? "no audience" : audience)
                    + ", not Exchange Online (" + cloud.exchangeResource() + ")",
                    "set mailgate.entra.scope=" + cloud.scope() + " (not Microsoft Graph's scope)"));
        }
        if (exchange && !scopes.isEmpty() && roles.isEmpty()) {
            problems.add(new Problem("scp", "the token carries delegated scopes (" + String.join(" ", scopes)
                    + ") instead of application roles", "Mailgate sends as an application (client credentials): use "
                            + "the app's own credentials, not a user's token, and never the delegated SMTP.Send"));
        }
        // no roles, or roles without SMTP.SendAsApp, is no problem: with RBAC for Applications Exchange grants the
        // app in its own role assignments and the token carries no roles claim at all (Microsoft says not to add
        // the Entra permission then); only the server's answer to AUTH and MAIL FROM decides
        if (isGuid(configuredTenant) && !tenantId.isEmpty() && !tenantId.equalsIgnoreCase(configuredTenant)) {
            problems.add(new Problem("tid", "the token was issued by tenant " + tenantId + ", not the configured "
                    + configuredTenant, "set mailgate.entra.tenant-id to the tenant that holds the mailboxes"));
        }
        if (!appId.isEmpty() && configuredClientId != null && !appId.equalsIgnoreCase(configuredClientId)) {
            problems.add(new Problem("appid", "the token was issued to app " + appId + ", not the configured "
                    + configuredClientId, "check mailgate.entra.client-id"));
        }
        return problems;
    }

    /**
     * Where the token says the app's right to send comes from, in one line: the Entra application permission
     * {@code SMTP.SendAsApp} (the classic setup), or none, when Exchange decides in its own role assignments (RBAC
     * for Applications) or mailbox permissions.
     */
    public String permission() {
        if (roles.contains(SEND_AS_APP)) {
            return "Entra permission " + SEND_AS_APP + " (Exchange also needs the service principal and access to "
                    + "the mailbox)";
        }
        return NO_ENTRA_PERMISSION;
    }

    /** {@link #permission()} of a token without {@code SMTP.SendAsApp}. */
    public static final String NO_ENTRA_PERMISSION = "no Entra permission: Exchange decides through RBAC for "
            + "Applications or mailbox permissions";

    /** A GUID such as Entra's tenant and client ids. */
    public static boolean isGuid(String value) {
        return value != null && value.matches("(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    }

    private static String audience(JsonNode aud) {
        if (aud.isArray()) {
            return aud.size() == 0 ? "" : aud.get(0).asText();
        }
        return aud.asText("");
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(v -> values.add(v.asText()));
        return List.copyOf(values);
    }

    private static List<String> scopes(JsonNode scp) {
        String text = scp.asText("").trim();
        return text.isEmpty() ? List.of() : List.of(text.split("\\s+"));
    }

    private static Instant instant(JsonNode seconds) {
        return seconds.isNumber() ? Instant.ofEpochSecond(seconds.asLong()) : null;
    }
}
