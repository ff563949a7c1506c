package dev.mailgate.auth;

import jakarta.mail.PasswordAuthentication;

import org.apache.camel.component.mail.MailAuthenticator;

import dev.mailgate.text.Text;

/**
 * The authenticator bean for camel-mail's {@code smtp} endpoint ({@code authenticator=#xoauth2}). The
 * "password" it hands to Jakarta Mail is a current access token from the {@link TokenCache}; with
 * {@code mail.smtp.auth.mechanisms=XOAUTH2}, Angus Mail turns it into the SASL response
 * {@code base64("user=" + mailbox + "\x01auth=Bearer " + token + "\x01\x01")}.
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

    /**
     * The SASL XOAUTH2 response {@code user=<mailbox>\x01auth=Bearer <token>\x01\x01}, before base64. {@code \x01}
     * separates its fields, so a user (or token) holding one could end {@code user=} and start an {@code auth=} of its
     * own; no control character of any kind may be in either. The validator refuses such addresses first; this is
     * the second line of defence for whatever reaches a sender.
     *
     * @throws IllegalArgumentException naming the character (and never showing the token)
     */
    public static String saslResponse(String user, String token) {
        checkUser(user);
        if (token == null || token.isEmpty() || Text.firstControl(token, false) >= 0) {
            throw new IllegalArgumentException("the access token is empty or contains a control character "
                    + (token == null || token.isEmpty() ? "" : Text.code(Text.firstControl(token, false)))
                    + "; it cannot be sent in SASL XOAUTH2");
        }
        return "user=" + user + "\u0001auth=Bearer " + token + "\u0001\u0001";
    }

    /**
     * Refuses a mailbox that cannot be the XOAUTH2 {@code user=}: empty, or with a control character. Angus Mail builds
     * the response itself for the initial-response form, so the sender checks the mailbox with this first.
     *
     * @throws IllegalArgumentException naming the character by its code
     */
    public static void checkUser(String user) {
        if (user == null || user.isEmpty()) {
            throw new IllegalArgumentException("the mailbox to authenticate as is empty");
        }
        int control = Text.firstControl(user, false);
        if (control >= 0) {
            throw new IllegalArgumentException("the mailbox to authenticate as contains the control character "
                    + Text.code(control) + ", which SASL XOAUTH2 cannot carry in user= (\\x01 separates its fields)");
        }
    }

    public String defaultMailbox() {
        return defaultMailbox;
    }

    public TokenCache tokens() {
        return tokens;
    }
}
