package dev.mailgate.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.subethamail.smtp.AuthenticationHandler;
import org.subethamail.smtp.RejectException;

/** The server side of SASL XOAUTH2 that the sandbox and the test servers use: both client forms, exact layout. */
class XOAuth2AuthenticationTest {

    private final List<String> seen = new ArrayList<>();
    private final XOAuth2Authentication auth = new XOAuth2Authentication(
            (mailbox, token) -> token.equals("good-token") ? Optional.empty() : Optional.of("unknown token"), seen::add);

    private static String sasl(String user, String token) {
        return Base64.getEncoder().encodeToString(("user=" + user + "\u0001auth=Bearer " + token + "\u0001\u0001")
                .getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void accepts_the_initial_response_on_the_auth_line() throws Exception {
        AuthenticationHandler handler = auth.create();

        assertThat(handler.auth("AUTH XOAUTH2 " + sasl("a@contoso.test", "good-token"), null)).isEmpty();
        assertThat(handler.getIdentity()).isEqualTo("a@contoso.test");
        assertThat(seen).containsExactly("user=a@contoso.test\u0001auth=Bearer good-token\u0001\u0001");
    }

    @Test
    void answers_auth_without_a_response_with_an_empty_334_challenge_then_accepts_the_response_line() throws Exception {
        AuthenticationHandler handler = auth.create();

        assertThat(handler.auth("AUTH XOAUTH2", null)).contains("334 ");
        assertThat(handler.auth(sasl("a@contoso.test", "good-token"), null)).isEmpty();
        assertThat(handler.getIdentity()).isEqualTo("a@contoso.test");
    }

    @Test
    void refuses_an_unknown_token_like_exchange_online() {
        assertThatThrownBy(() -> auth.create().auth("AUTH XOAUTH2 " + sasl("a@contoso.test", "other"), null))
                .isInstanceOf(RejectException.class)
                .extracting(e -> ((RejectException) e).getErrorResponse())
                .isEqualTo("535 5.7.3 Authentication unsuccessful");
    }

    @Test
    void refuses_the_bare_token_the_seed_go_snippet_sends() {
        String bare = Base64.getEncoder().encodeToString("good-token".getBytes(StandardCharsets.UTF_8));

        assertThatThrownBy(() -> auth.create().auth("AUTH XOAUTH2 " + bare, null))
                .isInstanceOf(RejectException.class);
    }

    @Test
    void refuses_a_response_without_the_closing_separators() {
        String truncated = Base64.getEncoder().encodeToString("user=a@contoso.test\u0001auth=Bearer good-token"
                .getBytes(StandardCharsets.UTF_8));

        assertThatThrownBy(() -> auth.create().auth("AUTH XOAUTH2 " + truncated, null))
                .isInstanceOf(RejectException.class);
    }

    @Test
    void refuses_text_that_is_not_base64() {
        assertThatThrownBy(() -> auth.create().auth("AUTH XOAUTH2 %%%not-base64", null))
                .isInstanceOf(RejectException.class);
    }
}
