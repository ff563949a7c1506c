package dev.mailgate.sandbox;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

import org.subethamail.smtp.AuthenticationHandler;
import org.subethamail.smtp.AuthenticationHandlerFactory;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.RejectException;

import dev.mailgate.auth.XOAuth2;

/**
 * Server side of SASL XOAUTH2 for SubEthaSMTP, as Exchange Online does it: accepts the initial response on
 * the AUTH line and the {@code AUTH XOAUTH2} / {@code 334} / response form, insists on the exact
 * {@code user=<mailbox>\x01auth=Bearer <token>\x01\x01} layout, and answers {@code 535 5.7.3 Authentication
 * unsuccessful} for anything else or for a token the {@link TokenCheck} refuses.
 */
public final class XOAuth2Authentication implements AuthenticationHandlerFactory {

    /** Decides whether {@code mailbox} may authenticate with {@code token}. */
    @FunctionalInterface
    public interface TokenCheck {
        /**
         * @return empty to accept, or why the token is refused (answered {@code 535 5.7.3})
         * @throws RejectException to answer with another reply, e.g. {@code 454 4.7.0} for a temporary failure
         */
        Optional<String> problem(String mailbox, String token) throws RejectException;
    }

    private final TokenCheck check;
    private final Consumer<String> saslListener;

    /** @param saslListener sees every decoded SASL response (tests assert on it); may be {@code null} */
    public XOAuth2Authentication(TokenCheck check, Consumer<String> saslListener) {
        this.check = check;
        this.saslListener = saslListener;
    }

    @Override
    public List<String> getAuthenticationMechanisms() {
        return List.of("XOAUTH2");
    }

    @Override
    public AuthenticationHandler create() {
        return new Handler();
    }

    private final class Handler implements AuthenticationHandler {
        private String mailbox;

        @Override
        public Optional<String> auth(String clientInput, MessageContext context) throws RejectException {
            String input = clientInput.trim();
            if (input.regionMatches(true, 0, "AUTH ", 0, 5)) {
                String[] words = input.split(" +");
                if (words.length == 2) {
                    return Optional.of("334 ");
                }
                return verify(words[2]);
            }
            return verify(input);
        }

        private Optional<String> verify(String base64) throws RejectException {
            String response;
            try {
                response = new String(Base64.getDecoder().decode(base64), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw unsuccessful();
            }
            if (saslListener != null) {
                saslListener.accept(response);
            }
            // exactly the layout Mailgate writes (XOAuth2): a response it would not send is refused
            Optional<XOAuth2.Credentials> credentials = XOAuth2.parse(response);
            if (credentials.isEmpty() || check.problem(credentials.get().user(), credentials.get().token()).isPresent()) {
                throw unsuccessful();
            }
            mailbox = credentials.get().user();
            return Optional.empty();
        }

        @Override
        public Object getIdentity() {
            return mailbox;
        }
    }

    private static RejectException unsuccessful() {
        return new RejectException(535, "5.7.3 Authentication unsuccessful");
    }
}
