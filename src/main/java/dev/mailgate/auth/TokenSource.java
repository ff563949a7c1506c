package dev.mailgate.auth;

/** Where fresh access tokens come from (Entra ID through MSAL4J in production). */
@FunctionalInterface
public interface TokenSource {

    /**
     * Requests a new token from the identity provider, bypassing any cache.
     *
     * @throws TokenException with a one-line explanation and fix when no token could be had
     */
    AccessToken fetch();
}
