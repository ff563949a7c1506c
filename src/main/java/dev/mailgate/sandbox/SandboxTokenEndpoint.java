package dev.mailgate.sandbox;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import javax.net.ssl.SSLContext;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;

/**
 * An HTTPS token endpoint that answers MSAL4J's client-credentials request ({@code POST
 * /{tenant}/oauth2/v2.0/token}) the way Entra ID does: a Bearer token for a known tenant, client and secret
 * or certificate, and Entra's own error codes otherwise (AADSTS90002 unknown tenant, AADSTS700016 unknown
 * application, AADSTS7000215 wrong secret, AADSTS700027 bad certificate assertion, AADSTS70011 bad scope).
 */
public final class SandboxTokenEndpoint implements AutoCloseable {

    /** The app registration the endpoint knows: a client id with a secret or a certificate (or both). */
    public record Registration(String clientId, String secret, X509Certificate certificate) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GRAPH = "https://graph.microsoft.com";
    private static final String ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    private final SandboxTokens tokens;
    private final Registration registration;
    private final HttpsServer server;
    private final ExecutorService executor;
    private final AtomicInteger requests = new AtomicInteger();
    private final List<String> issued = new CopyOnWriteArrayList<>();
    private volatile Duration lifetime = Duration.ofSeconds(3599);
    private volatile Duration delay = Duration.ZERO;
    private volatile Refusal refusal;

    /** An error Entra ID answers every request with, e.g. AADSTS7000222 for an expired client secret. */
    private record Refusal(int status, String error, int code, String description) {
    }

    public SandboxTokenEndpoint(SSLContext tls, SandboxTokens tokens, Registration registration) {
        this.tokens = tokens;
        this.registration = registration;
        try {
            server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        } catch (IOException e) {
            throw new IllegalStateException("cannot open the sandbox token endpoint", e);
        }
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        server.createContext("/", this::handle);
        executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "sandbox-entra");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** {@code https://localhost:<port>}: the value for {@code mailgate.entra.authority-host}. */
    public String authorityHost() {
        return "https://localhost:" + port();
    }

    /** How many token requests arrived, successful or not. */
    public int requests() {
        return requests.get();
    }

    /** Every token handed out, oldest first (tests compare them with what reached the SMTP server). */
    public List<String> issuedTokens() {
        return List.copyOf(issued);
    }

    /** The {@code expires_in} of tokens issued from now on. */
    public void lifetime(Duration lifetime) {
        this.lifetime = lifetime;
    }

    /**
     * Answers every request from now on with Entra's error {@code AADSTS<code>} (an expired secret: 401,
     * {@code invalid_client}, 7000222); {@code code} 0 lifts it.
     */
    public void refuse(int status, String error, int code, String description) {
        this.refusal = code == 0 ? null : new Refusal(status, error, code, description);
    }

    /** Makes every answer wait, like an Entra ID under load. */
    public void delay(Duration delay) {
        this.delay = delay;
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            requests.incrementAndGet();
            // Entra echoes the client's correlation id; MSAL logs a complaint when it is missing
            String correlation = exchange.getRequestHeaders().getFirst("client-request-id");
            if (correlation != null) {
                exchange.getResponseHeaders().set("client-request-id", correlation);
            }
            pause();
            String[] path = exchange.getRequestURI().getPath().split("/");
            if (!"POST".equals(exchange.getRequestMethod()) || path.length != 5 || !"oauth2".equals(path[2])
                    || !"v2.0".equals(path[3]) || !"token".equals(path[4])) {
                reply(exchange, 404, Map.of("error", "not_found"));
                return;
            }
            Map<String, String> form = form(exchange.getRequestBody());
            Refusal refused = refusal;
            if (refused != null) {
                error(exchange, refused.status(), refused.error(), refused.code(), refused.description());
                return;
            }
            String tenant = path[1];
            if (!tenant.equals(tokens.tenantId())) {
                error(exchange, 400, "invalid_request", 90002, "Tenant '" + tenant + "' not found. Check to make "
                        + "sure you have the correct tenant ID and are signing into the correct cloud.");
                return;
            }
            if (!"client_credentials".equals(form.get("grant_type"))) {
                error(exchange, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"
                        + form.get("grant_type") + "'.");
                return;
            }
            String clientId = form.getOrDefault("client_id", "");
            if (!clientId.equals(registration.clientId())) {
                error(exchange, 400, "unauthorized_client", 700016, "Application with identifier '" + clientId
                        + "' was not found in the directory '" + tenant + "'.");
                return;
            }
            if (!credentialAccepted(exchange, form)) {
                return;
            }
            String scope = form.getOrDefault("scope", "");
            // Entra issues a token for whichever resource the scope names (Exchange Online in any cloud, or
            // Microsoft Graph, whose tokens have no SMTP roles)
            // (MSAL4J adds openid, profile and offline_access to the one .default scope)
            String resource = java.util.Arrays.stream(scope.split("\\s+")).filter(s -> s.endsWith("/.default"))
                    .map(s -> s.substring(0, s.length() - "/.default".length())).findFirst().orElse("");
            String audience = dev.mailgate.config.Cloud.ofAudience(resource).isPresent() && !resource.isEmpty()
                    ? resource : resource.equals(GRAPH) ? GRAPH : null;
            if (audience == null) {
                error(exchange, 400, "invalid_scope", 70011, "The provided request must include a 'scope' input "
                        + "parameter. The provided value for the input parameter 'scope' is not valid: '" + scope
                        + "'.");
                return;
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("token_type", "Bearer");
            body.put("expires_in", lifetime.toSeconds());
            body.put("ext_expires_in", lifetime.toSeconds());
            String token = tokens.issue(clientId, audience, lifetime);
            issued.add(token);
            body.put("access_token", token);
            reply(exchange, 200, body);
        }
    }

    /** Checks the client secret or certificate assertion; when refused, the Entra-style error is already sent. */
    private boolean credentialAccepted(HttpExchange exchange, Map<String, String> form) throws IOException {
        String secret = form.get("client_secret");
        String assertion = form.get("client_assertion");
        if (secret != null) {
            if (registration.secret() != null && MessageDigest.isEqual(secret.getBytes(StandardCharsets.UTF_8),
                    registration.secret().getBytes(StandardCharsets.UTF_8))) {
                return true;
            }
            error(exchange, 401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret "
                    + "being sent in the request is the client secret value, not the client secret ID, for a "
                    + "secret added to app '" + registration.clientId() + "'.");
            return false;
        }
        if (assertion != null && ASSERTION_TYPE.equals(form.get("client_assertion_type"))) {
            String problem = assertionProblem(assertion, exchange);
            if (problem == null) {
                return true;
            }
            error(exchange, 401, "invalid_client", 700027, "Client assertion failed signature validation. ("
                    + problem + ")");
            return false;
        }
        error(exchange, 401, "invalid_client", 7000218, "The request body must contain the following parameter: "
                + "'client_assertion' or 'client_secret'.");
        return false;
    }

    /** Checks the RS256 client assertion MSAL signs with the app's certificate. */
    private String assertionProblem(String assertion, HttpExchange exchange) {
        if (registration.certificate() == null) {
            return "no certificate is registered for this app";
        }
        String[] parts = assertion.split("\\.");
        if (parts.length != 3) {
            return "not a JWT";
        }
        try {
            JsonNode header = JSON.readTree(Base64.getUrlDecoder().decode(parts[0]));
            JsonNode claims = JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
            if (!"RS256".equals(header.path("alg").asText())) {
                return "unsupported alg " + header.path("alg").asText();
            }
            Signature rsa = Signature.getInstance("SHA256withRSA");
            rsa.initVerify(registration.certificate().getPublicKey());
            rsa.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
            if (!rsa.verify(Base64.getUrlDecoder().decode(parts[2]))) {
                return "signature does not match the registered certificate";
            }
            if (!registration.clientId().equals(claims.path("iss").asText())
                    || !registration.clientId().equals(claims.path("sub").asText())) {
                return "iss/sub are not the client id";
            }
            String audience = claims.path("aud").asText();
            if (!audience.endsWith(exchange.getRequestURI().getPath())) {
                return "aud " + audience + " is not this token endpoint";
            }
            if (claims.path("exp").asLong() < Instant.now().getEpochSecond()) {
                return "assertion expired";
            }
            return null;
        } catch (IOException | GeneralSecurityException | IllegalArgumentException e) {
            return "unreadable assertion (" + e.getClass().getSimpleName() + ")";
        }
    }

    private void error(HttpExchange exchange, int status, String error, int code, String description)
            throws IOException {
        String trace = UUID.randomUUID().toString();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("error_description", "AADSTS" + code + ": " + description + " Trace ID: " + trace
                + " Correlation ID: " + UUID.randomUUID() + " Timestamp: " + Instant.now());
        body.put("error_codes", new int[] {code});
        body.put("timestamp", Instant.now().toString());
        body.put("trace_id", trace);
        reply(exchange, status, body);
    }

    private static void reply(HttpExchange exchange, int status, Map<String, ?> body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static Map<String, String> form(InputStream in) throws IOException {
        String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        Map<String, String> form = new HashMap<>();
        for (String pair : body.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                form.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return form;
    }

    private void pause() {
        Duration d = delay;
        if (!d.isZero()) {
            try {
                Thread.sleep(d.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
