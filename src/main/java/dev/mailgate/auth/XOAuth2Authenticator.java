package dev.mailgate.auth;

import jakarta.mail.PasswordAuthentication;

import org.apache.camel.component.mail.MailAuthenticator;

import dev.mailgate.text.Text;

/**
 * The authenticator bean for camel-mail's {@code smtp} endpoint ({@code authenticator=#xoauth2}). The
 * "password" it hands to Jakarta Mail is a current access token from the {@link TokenCache}; with
 * {@code mail.smtp.auth.mechanisms=XOAUTH2}, Angus Mail turns it into the SASL response
 * {@code base64("user=" + mailbox + "\x01auth=Bearer " + token + "\x01\x01")} ({@link XOAuth2}).
 * <p>
 * Camel asks it for credentials when a producer is created and on every send, so endpoints using it should
 * be {@code lazyStartProducer=true}: otherwise an unreachable Entra ID would fail route start-up.
 */
public class XOAuth2Authenticator extends MailAuthenticator {

    private final TokenCache tokens;
    private final String defaultMailbox;

    public XOAuth2Authenticator(TokenCache tokens, String defaultMailbox) {
        this.tokens = tokens;
        this.defaultMailbox = defaultMailbox;
    }

    /** Credentials for the default mailbox; what stock camel-mail senders call. */
    @Override
    public PasswordAuthentication getPasswordAuthentication() {
        return new PasswordAuthentication(defaultMailbox, tokens.token().value());
    }

    /** A token for authenticating as any mailbox the app may send as. */
    public AccessToken token() {
        return tokens.token();
    }

    /** The server refused {@code token}; the next {@link #token()} is a fresh one. */
    public void rejected(AccessToken token) {
        tokens.rejected(token);
    }

    public String defaultMailbox() {
        return defaultMailbox;
    }

    public TokenCache tokens() {
        return tokens;
    }
}
