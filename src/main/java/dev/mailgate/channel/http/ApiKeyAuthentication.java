package dev.mailgate.channel.http;

import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.AuthenticationHandler;

import org.apache.camel.component.platform.http.vertx.auth.AuthenticationConfig;

/**
 * Checks the API key before anything else, body parsing and uploads included: {@code X-API-Key: <key>} or
 * {@code Authorization: Bearer <key>}. A missing or wrong key gets {@code 401} with a problem document.
 */
public final class ApiKeyAuthentication implements AuthenticationHandler {

    private final ApiKeys keys;

    ApiKeyAuthentication(ApiKeys keys) {
        this.keys = keys;
    }

    /** The server's authentication configuration: every path needs a key. */
    public static AuthenticationConfig everyPath(ApiKeys keys) {
        AuthenticationConfig config = new AuthenticationConfig(java.util.List.of(entry("/*", keys)));
        config.setEnabled(true);
        return config;
    }

    private static AuthenticationConfig.AuthenticationConfigEntry entry(String path, ApiKeys keys) {
        AuthenticationConfig.AuthenticationConfigEntry entry = new AuthenticationConfig.AuthenticationConfigEntry();
        entry.setPath(path);
        entry.setAuthenticationProviderFactory(vertx -> (credentials, handler) -> {
            throw new UnsupportedOperationException("API keys are checked by the handler");
        });
        entry.setAuthenticationHandlerFactory(new AuthenticationConfig.AuthenticationHandlerFactory() {
            @Override
            @SuppressWarnings("unchecked")
            public <T extends io.vertx.ext.auth.authentication.AuthenticationProvider> AuthenticationHandler
                    createAuthenticationHandler(T provider) {
                return new ApiKeyAuthentication(keys);
            }
        });
        return entry;
    }

    @Override
    public void handle(RoutingContext context) {
        String key = context.request().getHeader("X-API-Key");
        String authorization = context.request().getHeader(HttpHeaders.AUTHORIZATION);
        if (key == null && authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            key = authorization.substring(7).trim();
        }
        if (keys.accepts(key)) {
            context.next();
            return;
        }
        context.response()
                .setStatusCode(401)
                .putHeader(HttpHeaders.CONTENT_TYPE, Problems.CONTENT_TYPE)
                .putHeader("WWW-Authenticate", "Bearer realm=\"mailgate\"")
                .end(Problems.of(401, "unauthorized", "Missing or wrong API key",
                        key == null ? "send the API key in the X-API-Key header (or Authorization: Bearer <key>)"
                                : "the API key is not valid"));
    }
}
