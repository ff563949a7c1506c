package dev.mailgate.sandbox;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Access tokens shaped like Entra ID's app-only tokens for Exchange Online (a JWT with {@code aud},
 * {@code tid}, {@code appid}, {@code roles: [SMTP.SendAsApp]}, {@code exp}), signed with a key that lives only
 * as long as this sandbox, so the sandbox SMTP server can check them the way Exchange does.
 */
public final class SandboxTokens {

    public static final String AUDIENCE = "https://outlook.office365.com";
    public static final String SEND_AS_APP = "SMTP.SendAsApp";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

    private final byte[] key = new byte[32];
    private final String tenantId;
    private final Clock clock;
    private volatile List<String> roles = List.of(SEND_AS_APP);
    /** Null: Exchange Online's audience in any cloud (the sandbox stands in for the configured one). */
    private volatile String expectedAudience;

    public SandboxTokens(String tenantId, Clock clock) {
        new SecureRandom().nextBytes(key);
        this.tenantId = tenantId;
        this.clock = clock;
    }

    public String tenantId() {
        return tenantId;
    }

    /**
     * The application roles issued tokens carry from now on: {@code SMTP.SendAsApp} when admin consent was granted,
     * none when it was not.
     */
    public void roles(List<String> granted) {
        this.roles = List.copyOf(granted);
    }

    /**
     * The audience a token must have for the server that checks it ({@link #problem}): Exchange Online's in the
     * cloud the server stands for (by default Exchange Online's in any cloud, so that the sandbox works whatever
     * mailgate.cloud says).
     */
    public void expectAudience(String audience) {
        this.expectedAudience = audience;
    }

    public String issue(String clientId, Duration lifetime) {
        return issue(clientId, AUDIENCE, lifetime);
    }

    /** A token for {@code audience}; only Exchange Online's ({@link #AUDIENCE}) carry the configured roles. */
    public String issue(String clientId, String audience, Duration lifetime) {
        long now = clock.instant().getEpochSecond();
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("aud", audience);
        claims.put("iss", "https://sts.windows.net/" + tenantId + "/");
        claims.put("iat", now);
        claims.put("nbf", now);
        claims.put("exp", now + lifetime.toSeconds());
        claims.put("appid", clientId);
        claims.put("idtyp", "app");
        claims.put("oid", UUID.nameUUIDFromBytes(clientId.getBytes(StandardCharsets.UTF_8)).toString());
        claims.put("roles", dev.mailgate.config.Cloud.ofAudience(audience).isPresent() ? roles : List.of());
        claims.put("tid", tenantId);
        claims.put("ver", "1.0");
        claims.put("jti", UUID.randomUUID().toString());
        try {
            String header = B64.encodeToString(JSON.writeValueAsBytes(Map.of("typ", "JWT", "alg", "HS256")));
            String payload = B64.encodeToString(JSON.writeValueAsBytes(claims));
            return header + "." + payload + "." + B64.encodeToString(sign(header + "." + payload));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Empty when the token is one of ours, unexpired, for Exchange Online and with SMTP.SendAsApp. */
    public Optional<String> problem(String token) {
        return problem(token, true);
    }

    /**
     * The same, with the {@code SMTP.SendAsApp} role asked for only when {@code roleNeeded}: a server that grants
     * the app in its own role assignments (Exchange's RBAC for Applications) takes a token without roles.
     */
    public Optional<String> problem(String token, boolean roleNeeded) {
        String[] parts = token.split("\\.");
        if (parts.length != 3) {
            return Optional.of("not a JWT");
        }
        byte[] expected = sign(parts[0] + "." + parts[1]);
        byte[] given;
        try {
            given = Base64.getUrlDecoder().decode(parts[2]);
        } catch (IllegalArgumentException e) {
            return Optional.of("signature is not base64url");
        }
        if (!MessageDigest.isEqual(expected, given)) {
            return Optional.of("signature does not verify (not issued by this sandbox)");
        }
        try {
            JsonNode claims = JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
            if (claims.path("exp").asLong() <= clock.instant().getEpochSecond()) {
                return Optional.of("token expired");
            }
            String audience = claims.path("aud").asText();
            String wanted = expectedAudience;
            if (wanted == null ? dev.mailgate.config.Cloud.ofAudience(audience).isEmpty() : !wanted.equals(audience)) {
                return Optional.of("audience is not " + (wanted == null ? "Exchange Online's" : wanted));
            }
            boolean sendAsApp = false;
            for (JsonNode role : claims.path("roles")) {
                sendAsApp |= SEND_AS_APP.equals(role.asText());
            }
            return sendAsApp || !roleNeeded ? Optional.empty() : Optional.of("no " + SEND_AS_APP + " role");
        } catch (java.io.IOException e) {
            return Optional.of("claims are not JSON");
        }
    }

    private byte[] sign(String content) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(content.getBytes(StandardCharsets.US_ASCII));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
