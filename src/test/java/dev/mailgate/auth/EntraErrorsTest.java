package dev.mailgate.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

import javax.net.ssl.SSLHandshakeException;

import com.microsoft.aad.msal4j.MsalClientException;
import com.microsoft.aad.msal4j.MsalServiceException;
import com.microsoft.aad.msal4j.MsalThrottlingException;
import org.junit.jupiter.api.Test;

import dev.mailgate.config.Settings;

class EntraErrorsTest {

    private static final String TENANT = "4a1e2f3c-1111-2222-3333-444455556666";
    private static final String CLIENT = "9d8c7b6a-aaaa-bbbb-cccc-ddddeeeeffff";
    private static final String TRACE = " Trace ID: 0f9e8d7c-0000-1111-2222-333344445555 Correlation ID: "
            + "a1b2c3d4-5555-6666-7777-888899990000 Timestamp: 2024-06-03 08:00:00Z";

    private static final Map<String, String> CONFIG = Map.of(
            "mailgate.entra.tenant-id", TENANT,
            "mailgate.entra.client-id", CLIENT,
            "mailgate.entra.client-secret", "not-the-real-secret",
            "mailgate.sender", "sender@example.com");

    private final Settings.Entra entra = Settings.read(key -> Optional.ofNullable(CONFIG.get(key))).entra();

    private TokenException explain(Throwable error) {
        return EntraErrors.explain(error, entra);
    }

    private static MsalServiceException service(String description, String error) {
        return new MsalServiceException(description, error);
    }

    // --- Entra ID refused the request -------------------------------------------------------------------

    @Test
    void explains_a_wrong_client_secret_naming_the_setting() {
        TokenException e = explain(service("AADSTS7000215: Invalid client secret provided. Ensure the secret "
                + "being sent in the request is the client secret value, not the client secret ID, for a secret "
                + "added to app '" + CLIENT + "'." + TRACE, "invalid_client"));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.REJECTED);
        assertThat(e.getMessage()).contains("(AADSTS7000215)").contains("the client secret is wrong")
                .contains("MAILGATE_ENTRA_CLIENT_SECRET");
    }

    @Test
    void drops_trace_and_correlation_ids_from_entras_description() {
        TokenException e = explain(service("AADSTS7000215: Invalid client secret provided." + TRACE,
                "invalid_client"));

        assertThat(e.getMessage()).contains("Entra said: AADSTS7000215: Invalid client secret provided.")
                .doesNotContain("Trace ID").doesNotContain("Correlation ID").doesNotContain("Timestamp");
    }

    @Test
    void keeps_only_the_first_line_of_a_multi_line_description() {
        TokenException e = explain(service("AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\n"
                + "Correlation ID: y\r\nTimestamp: z", "invalid_client"));

        assertThat(e.getMessage()).endsWith("Entra said: AADSTS7000215: Invalid client secret provided.")
                .doesNotContain("Trace ID");
    }

    @Test
    void explains_an_unknown_application_with_the_client_id_and_tenant() {
        TokenException e = explain(service("AADSTS700016: Application with identifier '" + CLIENT + "' was not "
                + "found in the directory 'Contoso'." + TRACE, "unauthorized_client"));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.REJECTED);
        assertThat(e.getMessage()).contains("no application with client id '" + CLIENT + "' exists in tenant '"
                + TENANT + "'").contains("mailgate.entra.client-id");
    }

    @Test
    void explains_an_unknown_tenant_naming_the_tenant_setting() {
        TokenException e = explain(service("AADSTS90002: Tenant '" + TENANT + "' not found. Check to make sure you "
                + "have the correct tenant ID and are signing into the correct cloud." + TRACE, "invalid_request"));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.REJECTED);
        assertThat(e.getMessage()).contains("tenant '" + TENANT + "' does not exist")
                .contains("mailgate.entra.tenant-id");
    }

    @Test
    void explains_an_expired_client_secret() {
        TokenException e = explain(service("AADSTS7000222: The provided client secret keys for app '" + CLIENT
                + "' are expired." + TRACE, "invalid_client"));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.REJECTED);
        assertThat(e.getMessage()).contains("the client secret has expired").contains("create a new one");
    }

    @Test
    void gives_general_advice_for_an_aadsts_code_it_does_not_know() {
        TokenException e = explain(service("AADSTS9999999: Something new." + TRACE, "invalid_request"));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.REJECTED);
        assertThat(e.getMessage()).contains("(AADSTS9999999)")
                .contains("check mailgate.entra.tenant-id, mailgate.entra.client-id and the client credential");
    }

    @Test
    void names_the_oauth_error_when_there_is_no_aadsts_code() {
        TokenException e = explain(service("The request was refused", "invalid_grant"));

        assertThat(e.getMessage()).startsWith("Entra ID refused the token request (invalid_grant)");
    }

    @Test
    void finds_the_service_exception_behind_the_futures_wrappers() {
        Throwable wrapped = new ExecutionException(new CompletionException(
                service("AADSTS90002: Tenant not found." + TRACE, "invalid_request")));

        assertThat(explain(wrapped).getMessage()).contains("(AADSTS90002)");
    }

    @Test
    void explains_a_tls_failure_as_rejected_naming_the_trust_store() {
        TokenException e = explain(new MsalClientException(new SSLHandshakeException("PKIX path building failed")));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.REJECTED);
        assertThat(e.getMessage()).contains("TLS to Entra ID at https://login.microsoftonline.com failed")
                .contains("mailgate.tls.truststore");
    }

    // --- Entra ID could not be reached ------------------------------------------------------------------

    @Test
    void explains_an_unknown_host_as_unreachable_naming_the_authority_host() {
        TokenException e = explain(new MsalClientException(new UnknownHostException("login.microsoftonline.com")));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.UNREACHABLE);
        assertThat(e.getMessage()).contains("cannot reach Entra ID at https://login.microsoftonline.com")
                .contains("does not resolve");
    }

    @Test
    void explains_a_refused_connection_as_unreachable_naming_the_authority_host() {
        TokenException e = explain(new MsalClientException(new ConnectException("Connection refused")));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.UNREACHABLE);
        assertThat(e.getMessage()).contains("cannot reach Entra ID at https://login.microsoftonline.com")
                .contains("the connection was refused");
    }

    @Test
    void explains_a_timeout_as_unreachable_naming_the_timeout_settings() {
        TokenException e = explain(new MsalClientException(new SocketTimeoutException("Read timed out")));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.UNREACHABLE);
        assertThat(e.getMessage()).contains("cannot reach Entra ID at https://login.microsoftonline.com")
                .contains("mailgate.entra.connect-timeout");
    }

    @Test
    void explains_an_entra_server_error_as_unreachable() {
        // MSAL sets the HTTP status only from a real response; a mock stands in for a 503 from Entra ID
        MsalServiceException unavailable = mock(MsalServiceException.class);
        when(unavailable.statusCode()).thenReturn(503);
        when(unavailable.getMessage()).thenReturn("AADSTS90033: A transient error has occurred.");

        TokenException e = explain(unavailable);

        assertThat(e.kind()).isEqualTo(TokenException.Kind.UNREACHABLE);
        assertThat(e.getMessage()).contains("cannot reach Entra ID at https://login.microsoftonline.com")
                .contains("it answered HTTP 503");
    }

    @Test
    void explains_throttling_as_unreachable() {
        TokenException e = explain(new MsalThrottlingException(30_000));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.UNREACHABLE);
        assertThat(e.getMessage()).contains("throttling");
    }

    @Test
    void explains_an_unexpected_error_as_unreachable_naming_its_type() {
        TokenException e = explain(new IllegalStateException("something odd"));

        assertThat(e.kind()).isEqualTo(TokenException.Kind.UNREACHABLE);
        assertThat(e.getMessage()).contains("IllegalStateException");
    }

    @Test
    void never_puts_the_client_secret_into_the_message() {
        TokenException e = explain(service("AADSTS7000215: Invalid client secret provided." + TRACE,
                "invalid_client"));

        assertThat(e.getMessage()).doesNotContain("not-the-real-secret");
    }
}
