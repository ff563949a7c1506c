package dev.mailgate.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import picocli.CommandLine;

import dev.mailgate.cli.Cli;
import dev.mailgate.sandbox.SelfSignedCertificate;
import dev.mailgate.support.Gateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestProxy;
import dev.mailgate.support.TestSmtpServer.Stage;
import dev.mailgate.support.TestSmtpServer;

/**
 * {@code mailgate doctor} run in-process through picocli, exactly as an operator types it, against a real HTTPS
 * token endpoint ({@link TestEntra}, spoken to by MSAL4J) and a real STARTTLS + XOAUTH2 SMTP server
 * ({@link TestSmtpServer}). Each failure mode is reproduced on the wire and the report is checked for what the
 * operator needs: which step fails, that the steps before it pass and the dependent ones are skipped, the exit
 * code (0, 69 unreachable, 78 configuration) and the cause and exact fix.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DoctorTest {

    private static final SelfSignedCertificate TLS = SelfSignedCertificate.forLocalhost();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SENDER = Gateway.SENDER;
    private static final List<String> STEPS = List.of("configuration", "dns", "tcp", "starttls", "tls", "ehlo",
            "token", "claims", "auth", "sender", "send");
    /** The one warning every run against the local test server has: the host is not smtp.office365.com. */
    private static final String HOST_WARNING = "mailgate.smtp.host is localhost, not Exchange Online's "
            + "smtp.office365.com";
    private static final String OTHER_GUID = "99999999-8888-4777-8666-555555555555";

    @TempDir
    Path dir;

    private TestEntra entra;
    private final List<AutoCloseable> servers = new ArrayList<>();

    @BeforeEach
    void startEntra() {
        entra = new TestEntra(TLS, null);
    }

    @AfterEach
    void stopServers() throws Exception {
        for (AutoCloseable server : servers) {
            server.close();
        }
        entra.close();
    }

    // --- all good ---------------------------------------------------------------------------------------------

    @Test
    void all_good_every_step_passes_and_no_message_is_sent_without_send_to() {
        TestSmtpServer smtp = smtp();

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "SKIP");
        assertThat(run.code()).isZero();
        assertThat(run.json().path("passed").asBoolean()).isTrue();
        // the only warning: the test server is not smtp.office365.com
        assertThat(run.check("configuration").path("cause").asText()).isEqualTo(HOST_WARNING);
        assertThat(run.check("tls").path("summary").asText()).startsWith("TLSv1.").contains("matches localhost");
        assertThat(run.check("ehlo").path("summary").asText()).contains("XOAUTH2");
        assertThat(run.check("claims").path("summary").asText()).contains("aud https://outlook.office365.com",
                "roles SMTP.SendAsApp", "tid " + TestEntra.TENANT, "appid " + TestEntra.CLIENT_ID);
        List<String> auth = transcript(run.check("auth"));
        assertThat(auth).anySatisfy(line -> assertThat(line).startsWith(
                "C: AUTH XOAUTH2 (user=" + SENDER + ", auth=Bearer eyJ…(redacted)"));
        assertThat(auth).anySatisfy(line -> assertThat(line).startsWith("S: 235"));
        assertThat(run.check("sender").path("summary").asText()).contains(SENDER + " accepted as sender");
        assertThat(run.check("send").path("summary").asText()).contains("--send-to");
        // the doctor really authenticated with a token from Entra, and sent nothing
        assertThat(smtp.saslResponses()).singleElement().asString()
                .isEqualTo("user=" + SENDER + "\u0001auth=Bearer " + entra.endpoint().issuedTokens().get(0)
                        + "\u0001\u0001");
        assertThat(smtp.received()).isEmpty();
    }

    @Test
    void all_good_with_send_to_sends_one_test_message() throws Exception {
        TestSmtpServer smtp = smtp();

        Run run = doctor(settings(smtp), "--send-to", "bob@example.com");

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS");
        assertThat(run.code()).isZero();
        assertThat(run.check("send").path("summary").asText()).contains("bob@example.com", "250");
        assertThat(smtp.received()).singleElement().satisfies(received -> {
            assertThat(received.mailFrom()).isEqualTo(SENDER);
            assertThat(received.recipients()).containsExactly("bob@example.com");
            MimeMessage message = received.message();
            assertThat(message.getSubject()).isEqualTo("Mailgate doctor test");
            assertThat(((InternetAddress) message.getFrom()[0]).getAddress()).isEqualTo(SENDER);
        });
    }

    // --- configuration ----------------------------------------------------------------------------------------

    @Test
    void unreadable_settings_fail_configuration_naming_the_key() {
        Map<String, String> settings = settings(smtp());
        settings.put("mailgate.smtp.port", "notaport");

        Run run = doctor(settings);

        assertThat(run.code()).isEqualTo(78);
        assertThat(run.json().path("exitCode").asInt()).isEqualTo(78);
        assertThat(run.json().path("checks")).hasSize(1);
        JsonNode configuration = run.check("configuration");
        assertThat(configuration.path("status").asText()).isEqualTo("FAIL");
        assertThat(configuration.path("unreachable").asBoolean()).isFalse();
        assertThat(configuration.path("cause").asText()).contains("mailgate.smtp.port", "notaport");
    }

    @Test
    void missing_client_secret_file_fails_configuration_and_skips_the_token() {
        TestSmtpServer smtp = smtp();
        Path missing = dir.resolve("no-such-dir").resolve("client-secret.txt");
        Map<String, String> settings = settings(smtp);
        settings.remove("mailgate.entra.client-secret");
        settings.put("mailgate.entra.client-secret-file", missing.toString());

        Run run = doctor(settings);

        assertSteps(run, "FAIL", "PASS", "PASS", "PASS", "PASS", "PASS", "SKIP", "SKIP", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        assertThat(run.check("configuration").path("cause").asText())
                .contains("mailgate.entra.client-secret-file", missing.toString(), "does not exist");
        assertThat(entra.requests()).isZero();
        assertThat(smtp.saslResponses()).isEmpty();
    }

    // --- reaching the SMTP server -----------------------------------------------------------------------------

    @Test
    void unknown_smtp_host_fails_dns_as_unreachable_while_the_token_is_still_checked() {
        Map<String, String> settings = settings(smtp());
        settings.put("mailgate.smtp.host", "no-such-host.invalid");

        Run run = doctor(settings);

        assertSteps(run, "WARN", "FAIL", "SKIP", "SKIP", "SKIP", "SKIP", "PASS", "PASS", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(69);
        JsonNode dns = run.check("dns");
        assertThat(dns.path("unreachable").asBoolean()).isTrue();
        assertThat(dns.path("summary").asText()).contains("no-such-host.invalid does not resolve");
        assertThat(dns.path("fix").asText()).contains("mailgate.smtp.host=smtp.office365.com");
        assertThat(run.check("auth").path("summary").asText()).contains("not reached");
    }

    @Test
    void nothing_listening_on_the_smtp_port_fails_tcp_as_unreachable() {
        Map<String, String> settings = settings(smtp());
        settings.put("mailgate.smtp.port", Integer.toString(Gateway.freePort()));

        Run run = doctor(settings);

        assertSteps(run, "WARN", "PASS", "FAIL", "SKIP", "SKIP", "SKIP", "PASS", "PASS", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(69);
        JsonNode tcp = run.check("tcp");
        assertThat(tcp.path("unreachable").asBoolean()).isTrue();
        assertThat(tcp.path("summary").asText()).contains("refused");
        assertThat(tcp.path("fix").asText()).contains("mailgate.smtp.port", "587");
    }

    @Test
    void server_without_starttls_fails_starttls_and_gets_no_auth() {
        TestSmtpServer smtp = TestSmtpServer.cleartext(entra.tokens());
        servers.add(smtp);

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "FAIL", "SKIP", "SKIP", "PASS", "PASS", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode starttls = run.check("starttls");
        assertThat(starttls.path("summary").asText()).contains("does not offer STARTTLS");
        assertThat(starttls.path("cause").asText()).contains("cleartext");
        assertThat(starttls.path("fix").asText()).contains("smtp.office365.com", "587");
        assertThat(transcript(starttls)).anySatisfy(line -> assertThat(line).startsWith("C: EHLO"))
                .noneSatisfy(line -> assertThat(line).contains("AUTH XOAUTH2 "));
        assertThat(smtp.saslResponses()).isEmpty();
    }

    @Test
    void untrusted_smtp_certificate_fails_tls_and_no_token_reaches_the_server() {
        SelfSignedCertificate stranger = SelfSignedCertificate.forLocalhost();
        TestSmtpServer smtp = TestSmtpServer.withStartTls(stranger.serverContext(), entra.tokens());
        servers.add(smtp);

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "FAIL", "SKIP", "PASS", "PASS", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode tls = run.check("tls");
        assertThat(tls.path("unreachable").asBoolean()).isFalse();
        assertThat(tls.path("cause").asText()).contains("certificate is not trusted", "no token was sent");
        assertThat(tls.path("fix").asText()).contains("mailgate.tls.truststore");
        // a token was issued (the token step passed) but never went to the untrusted server
        assertThat(entra.endpoint().issuedTokens()).isNotEmpty();
        assertThat(smtp.saslResponses()).isEmpty();
    }

    @Test
    void certificate_for_another_host_name_fails_tls_on_the_name() {
        SelfSignedCertificate other = SelfSignedCertificate.create("mail.other.test", List.of("mail.other.test"),
                List.of());
        TestSmtpServer smtp = TestSmtpServer.withStartTls(other.serverContext(), entra.tokens());
        servers.add(smtp);
        Map<String, String> settings = settings(smtp);
        // the trust store holds both certificates: Entra's (localhost) and the SMTP server's (mail.other.test),
        // so the only problem left is the name
        settings.put("mailgate.tls.truststore", trustStore(TLS, other).toString());

        Run run = doctor(settings);

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "FAIL", "SKIP", "PASS", "PASS", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode tls = run.check("tls");
        assertThat(tls.path("cause").asText()).contains("certificate does not match the host name");
        assertThat(tls.path("cause").asText()).doesNotContain("not trusted");
        assertThat(tls.path("fix").asText()).contains("mailgate.smtp.host");
        assertThat(smtp.saslResponses()).isEmpty();
    }

    @Test
    void exchange_refusing_the_tls_version_after_starttls_fails_ehlo_pointing_at_a_proxy() {
        TestSmtpServer smtp = smtp();
        smtp.refuseAfterStartTls(421, "4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your "
                + "client to support TLS 1.2.");

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "FAIL", "PASS", "PASS", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode ehlo = run.check("ehlo");
        assertThat(ehlo.path("summary").asText()).contains("421 4.7.66 TLS 1.0 and 1.1 are not supported");
        assertThat(ehlo.path("cause").asText()).contains("TLS version");
        assertThat(ehlo.path("fix").asText()).contains("proxy", "TLS");
        assertThat(smtp.saslResponses()).isEmpty();
    }

    @Test
    void terminal_escape_codes_in_a_server_reply_are_shown_escaped() {
        TestSmtpServer smtp = smtp();
        smtp.refuseAfterStartTls(554, "5.7.1 \u001b[2J\u001b]0;owned\u0007 go away");

        Run run = doctorText(settings(smtp), "never");

        assertThat(run.code()).isEqualTo(78);
        assertThat(run.out()).doesNotContain("\u001b", "\u0007").contains("554 5.7.1 \\u001b[2J\\u001b]0;owned\\u0007 go away");
    }

    @Test
    void a_server_that_refuses_the_long_auth_line_is_authenticated_with_the_two_line_form_and_warned_about() {
        TestSmtpServer smtp = smtp();
        smtp.limitAuthLine(500);

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "WARN", "PASS", "SKIP");
        assertThat(run.code()).isZero();
        JsonNode auth = run.check("auth");
        assertThat(auth.path("summary").asText()).contains("two-line form", "235");
        assertThat(auth.path("cause").asText()).contains("500 5.5.2 Line too long");
        assertThat(auth.path("fix").asText()).contains("mailgate.smtp.xoauth2-form");
        assertThat(transcript(auth)).contains("S: 500 5.5.2 Line too long", "C: AUTH XOAUTH2", "S: 334 ");
        assertThat(transcript(auth)).anySatisfy(line -> assertThat(line).startsWith("C: (user=" + SENDER
                + ", auth=Bearer eyJ…(redacted)"));
        assertThat(smtp.twoLineAuths()).isEqualTo(1);
        assertThat(smtp.saslResponses()).containsExactly("user=" + SENDER + "\u0001auth=Bearer "
                + entra.endpoint().issuedTokens().get(0) + "\u0001\u0001");
        assertThat(run.out() + run.err()).doesNotContain(entra.endpoint().issuedTokens().get(0));
    }

    @Test
    void a_gmail_style_334_challenge_is_answered_and_reported_as_the_refusal() {
        TestSmtpServer smtp = smtp();
        smtp.rejectNextAuthGmailStyle(1);

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        List<String> auth = transcript(run.check("auth"));
        // the challenge (base64 JSON), the empty line that ends the exchange, then the final refusal
        assertThat(auth).anySatisfy(line -> assertThat(line).startsWith("S: 334 "));
        assertThat(auth).contains("C: ");
        assertThat(auth.get(auth.size() - 1)).startsWith("S: 535");
        assertThat(run.check("auth").path("fix").asText()).contains("New-ServicePrincipal");
    }

    @Test
    void server_without_xoauth2_fails_ehlo_and_gets_no_password() {
        List<String> passwordsSeen = new CopyOnWriteArrayList<>();
        TestSmtpServer smtp = TestSmtpServer.withPasswordAuthOnly(TLS.serverContext(), passwordsSeen);
        servers.add(smtp);

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "FAIL", "PASS", "PASS", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode ehlo = run.check("ehlo");
        assertThat(ehlo.path("summary").asText()).matches("the server offers AUTH .*PLAIN.* but not XOAUTH2");
        assertThat(ehlo.path("fix").asText()).contains("OAuth2", "smtp.office365.com", "587");
        assertThat(transcript(ehlo)).noneSatisfy(line -> assertThat(line).startsWith("C: AUTH"));
        assertThat(passwordsSeen).isEmpty();
    }

    // --- the token --------------------------------------------------------------------------------------------

    @Test
    void wrong_client_secret_fails_the_token_with_aadsts7000215() {
        Map<String, String> settings = settings(smtp());
        settings.put("mailgate.entra.client-secret", "the-secret-id-not-the-value");

        Run run = doctor(settings);

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode token = run.check("token");
        assertThat(token.path("unreachable").asBoolean()).isFalse();
        assertThat(token.path("cause").asText()).contains("AADSTS7000215");
        assertThat(token.path("fix").asText()).contains("Value", "not its Secret ID");
        assertThat(run.check("auth").path("summary").asText()).isEqualTo("no token");
    }

    @Test
    void expired_client_secret_fails_the_token_with_aadsts7000222() {
        TestSmtpServer smtp = smtp();
        entra.endpoint().refuse(401, "invalid_client", 7000222, "The provided client secret keys for app '"
                + TestEntra.CLIENT_ID + "' are expired. Visit the Azure portal to create new keys for your app: "
                + "https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: "
                + "https://aka.ms/certCreds.");

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode token = run.check("token");
        assertThat(token.path("cause").asText()).contains("AADSTS7000222", "expired");
        assertThat(token.path("fix").asText()).contains("create a new one", "Certificates & secrets");
    }

    @Test
    void app_not_in_tenant_fails_the_token_with_aadsts700016() {
        Map<String, String> settings = settings(smtp());
        settings.put("mailgate.entra.client-id", OTHER_GUID);

        Run run = doctor(settings);

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode token = run.check("token");
        assertThat(token.path("cause").asText()).contains("AADSTS700016");
        assertThat(token.path("fix").asText()).contains(OTHER_GUID, "mailgate.entra.client-id");
    }

    @Test
    void unknown_tenant_fails_the_token_with_aadsts90002() {
        Map<String, String> settings = settings(smtp());
        settings.put("mailgate.entra.tenant-id", OTHER_GUID);

        Run run = doctor(settings);

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode token = run.check("token");
        assertThat(token.path("cause").asText()).contains("AADSTS90002");
        assertThat(token.path("fix").asText()).contains("mailgate.entra.tenant-id", OTHER_GUID);
    }

    @Test
    void entra_unreachable_fails_the_token_as_unreachable() {
        Map<String, String> settings = settings(smtp());
        String nowhere = "https://localhost:" + Gateway.freePort();
        settings.put("mailgate.entra.authority-host", nowhere);

        Run run = doctor(settings);

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP", "SKIP", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(69);
        JsonNode token = run.check("token");
        assertThat(token.path("unreachable").asBoolean()).isTrue();
        assertThat(token.path("cause").asText()).contains("cannot reach Entra ID at " + nowhere);
        assertThat(token.path("fix").asText()).contains("mailgate.entra.authority-host");
    }

    // --- the token's claims -----------------------------------------------------------------------------------

    @Test
    void rbac_for_applications_token_without_roles_passes_claims_and_the_server_decides() throws Exception {
        TestSmtpServer smtp = smtp();
        entra.tokens().roles(List.of());
        smtp.grantThroughRbac(SENDER);

        Run run = doctor(settings(smtp), "--send-to", "bob@example.com");

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS");
        assertThat(run.code()).isZero();
        assertThat(run.check("claims").path("summary").asText()).contains("roles (none)",
                "no Entra permission: Exchange decides through RBAC for Applications or mailbox permissions");
        assertThat(smtp.received()).singleElement().satisfies(m -> assertThat(m.mailbox()).isEqualTo(SENDER));
    }

    @Test
    void token_without_roles_refused_by_exchange_fails_auth_naming_both_permission_models() {
        TestSmtpServer smtp = smtp();
        entra.tokens().roles(List.of());

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode auth = run.check("auth");
        assertThat(auth.path("summary").asText()).startsWith("535");
        assertThat(auth.path("fix").asText()).contains(
                "New-ManagementRoleAssignment -App " + TestEntra.CLIENT_ID + " -Role 'Application SMTP.SendAsApp'",
                "Test-ServicePrincipalAuthorization -Identity " + TestEntra.CLIENT_ID + " -Resource " + SENDER,
                "PrimarySmtpAddress -eq '" + SENDER + "'",
                "Add-MailboxPermission -Identity " + SENDER, "Set-CASMailbox -Identity " + SENDER);
    }

    @Test
    void microsoft_graph_scope_warns_in_configuration_and_fails_claims_on_the_audience() {
        TestSmtpServer smtp = smtp();
        Map<String, String> settings = settings(smtp);
        settings.put("mailgate.entra.scope", "https://graph.microsoft.com/.default");

        Run run = doctor(settings);

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "FAIL", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode configuration = run.check("configuration");
        assertThat(configuration.path("cause").asText())
                .contains("mailgate.entra.scope is https://graph.microsoft.com/.default");
        assertThat(configuration.path("fix").asText())
                .contains("mailgate.entra.scope=https://outlook.office365.com/.default");
        JsonNode claims = run.check("claims");
        assertThat(claims.path("summary").asText()).contains("aud https://graph.microsoft.com");
        assertThat(claims.path("cause").asText()).contains("https://graph.microsoft.com", "not Exchange Online");
        assertThat(claims.path("fix").asText()).contains("mailgate.entra.scope=https://outlook.office365.com/.default")
                .doesNotContain("Grant admin consent");
        assertThat(run.check("auth").path("fix").asText())
                .contains("mailgate.entra.scope=https://outlook.office365.com/.default");
    }

    // --- AUTH XOAUTH2 refused with a good token ---------------------------------------------------------------

    @Test
    void auth_535_5_7_3_with_a_good_token_names_the_exchange_powershell_fix() {
        TestSmtpServer smtp = smtp();
        smtp.replyToNext(Stage.AUTH, 535, "5.7.3 Authentication unsuccessful");

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode auth = run.check("auth");
        assertThat(auth.path("summary").asText()).isEqualTo("535 5.7.3 Authentication unsuccessful");
        assertThat(auth.path("cause").asText()).contains("refused authentication", SENDER);
        assertThat(auth.path("fix").asText()).contains("New-ServicePrincipal -AppId " + TestEntra.CLIENT_ID,
                "Add-MailboxPermission -Identity " + SENDER, "Set-CASMailbox -Identity " + SENDER);
        assertThat(transcript(auth)).anySatisfy(line -> assertThat(line)
                .isEqualTo("S: 535 5.7.3 Authentication unsuccessful"));
    }

    @Test
    void auth_535_5_7_139_disabled_for_the_mailbox_names_set_casmailbox() {
        Run run = authRefused("5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
                + "Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.");

        assertThat(run.check("auth").path("fix").asText())
                .contains("Set-CASMailbox -Identity " + SENDER + " -SmtpClientAuthenticationDisabled $false")
                .doesNotContain("New-ServicePrincipal", "<mailbox>");
    }

    @Test
    void auth_535_5_7_139_disabled_for_the_tenant_names_set_transportconfig() {
        Run run = authRefused("5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
                + "Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.");

        assertThat(run.check("auth").path("fix").asText())
                .contains("Set-TransportConfig -SmtpClientAuthenticationDisabled $false")
                .contains("Set-CASMailbox -Identity " + SENDER)
                .doesNotContain("New-ServicePrincipal", "<mailbox>");
    }

    @Test
    void auth_535_5_7_139_security_defaults_names_security_defaults() {
        Run run = authRefused("5.7.139 Authentication unsuccessful, user is locked by your organization's "
                + "security defaults policy. Contact your administrator.");

        assertThat(run.check("auth").path("fix").asText()).contains("security defaults", "Conditional Access")
                .doesNotContain("New-ServicePrincipal");
    }

    // --- MAIL FROM and the test message -----------------------------------------------------------------------

    @Test
    void mail_from_refused_5_7_60_fails_sender_with_add_mailboxpermission() {
        TestSmtpServer smtp = smtp();
        smtp.replyToNext(Stage.MAIL_FROM, 550, "5.7.60 SMTP; Client does not have permissions to send as this "
                + "sender");

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode sender = run.check("sender");
        assertThat(sender.path("summary").asText()).startsWith("550 5.7.60");
        assertThat(sender.path("cause").asText()).contains("refused to send as the message's from address", SENDER);
        assertThat(sender.path("fix").asText()).contains("Add-MailboxPermission -Identity " + SENDER);
    }

    // --- outbound proxies ---------------------------------------------------------------------------------------

    @Test
    void through_a_socks5_proxy_with_credentials_every_step_passes_and_the_proxy_resolves_the_server()
            throws Exception {
        TestSmtpServer smtp = smtp();
        try (TestProxy proxy = TestProxy.socks5("relay", "socks-secret-1")) {
            Map<String, String> settings = settings(smtp);
            settings.put("mailgate.smtp.proxy", proxy.url());
            settings.put("mailgate.smtp.proxy-user", "relay");
            settings.put("mailgate.smtp.proxy-password", "socks-secret-1");

            Run run = doctor(settings, "--send-to", "bob@example.com");

            assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS");
            assertThat(run.check("dns").path("summary").asText()).isEqualTo("localhost is resolved by the proxy "
                    + proxy.url() + " (mailgate.smtp.proxy)");
            assertThat(run.check("tcp").path("summary").asText()).startsWith("tunnel to localhost:" + smtp.port()
                    + " through " + proxy.url() + " as relay");
            assertThat(proxy.tunnels()).singleElement().satisfies(t -> {
                assertThat(t.target()).isEqualTo("localhost:" + smtp.port());
                assertThat(t.credentials()).isEqualTo("relay:socks-secret-1");
            });
            assertThat(smtp.received()).hasSize(1);
            assertThat(run.out()).doesNotContain("socks-secret-1");
        }
    }

    @Test
    void an_http_proxy_that_wants_credentials_fails_tcp_naming_the_proxy_user_setting() {
        TestSmtpServer smtp = smtp();
        try (TestProxy proxy = TestProxy.http("relay", "secret")) {
            Map<String, String> settings = settings(smtp);
            settings.put("mailgate.smtp.proxy", proxy.url());

            Run run = doctor(settings);

            assertSteps(run, "WARN", "PASS", "FAIL", "SKIP", "SKIP", "SKIP", "PASS", "PASS", "SKIP", "SKIP", "SKIP");
            assertThat(run.code()).isEqualTo(78);
            JsonNode tcp = run.check("tcp");
            assertThat(tcp.path("cause").asText()).contains("the proxy " + proxy.url() + " refused CONNECT localhost:"
                    + smtp.port() + ": HTTP/1.1 407");
            assertThat(tcp.path("fix").asText()).contains("mailgate.smtp.proxy-user", "MAILGATE_SMTP_PROXY_PASSWORD");
            assertThat(smtp.connections()).isZero();
        }
    }

    // --- national clouds ----------------------------------------------------------------------------------------

    @Test
    void a_gcc_high_tenant_passes_with_mailgate_cloud_and_its_audience_is_the_government_exchange() {
        TestSmtpServer smtp = smtp();
        entra.tokens().expectAudience("https://outlook.office365.us");
        Map<String, String> settings = settings(smtp);
        settings.put("mailgate.cloud", "usgov-gcchigh");

        Run run = doctor(settings, "--send-to", "bob@example.com");

        assertThat(run.code()).isZero();
        assertThat(run.check("claims").path("summary").asText()).contains("aud https://outlook.office365.us");
        assertThat(run.check("configuration").path("cause").asText()).contains("not Exchange Online's "
                + "outlook.office365.us (mailgate.cloud=usgov-gcchigh)");
        assertThat(smtp.received()).hasSize(1);
    }

    @Test
    void a_global_scope_in_a_gcc_high_setup_fails_claims_naming_the_cloud_fix() {
        TestSmtpServer smtp = smtp();
        Map<String, String> settings = settings(smtp);
        settings.put("mailgate.cloud", "usgov-gcchigh");
        settings.put("mailgate.entra.scope", "https://outlook.office365.com/.default");

        Run run = doctor(settings);

        assertThat(run.code()).isEqualTo(78);
        assertThat(run.check("configuration").path("fix").asText())
                .contains("mailgate.entra.scope=https://outlook.office365.us/.default");
        JsonNode claims = run.check("claims");
        assertThat(claims.path("status").asText()).isEqualTo("FAIL");
        assertThat(claims.path("cause").asText()).contains("Exchange Online in the global cloud",
                "not the configured usgov-gcchigh cloud");
        assertThat(claims.path("fix").asText()).contains("mailgate.cloud=global");
    }

    // --- Send As: --from an address another mailbox authenticates for --------------------------------------------

    @Test
    void from_a_shared_mailbox_with_send_as_authenticates_as_the_mailbox_and_sends_from_the_shared_one()
            throws Exception {
        TestSmtpServer smtp = smtp();
        smtp.enforceSendAs();
        smtp.grantSendAs("noreply@contoso.test", SENDER);
        Map<String, String> settings = settings(smtp);
        settings.put("mailgate.authenticate-as", "noreply@contoso.test=" + SENDER);

        Run run = doctor(settings, "--from", "noreply@contoso.test", "--send-to", "bob@example.com");

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS");
        assertThat(run.check("auth").path("summary").asText()).contains("authenticated as " + SENDER);
        assertThat(run.check("send").path("summary").asText()).contains("from noreply@contoso.test");
        assertThat(smtp.received()).singleElement().satisfies(received -> {
            assertThat(received.mailbox()).isEqualTo(SENDER);
            assertThat(received.mailFrom()).isEqualTo("noreply@contoso.test");
            assertThat(((InternetAddress) received.message().getFrom()[0]).getAddress())
                    .isEqualTo("noreply@contoso.test");
        });
    }

    @Test
    void from_an_address_without_send_as_fails_send_naming_add_recipientpermission() {
        TestSmtpServer smtp = smtp();
        smtp.enforceSendAs();
        Map<String, String> settings = settings(smtp);
        settings.put("mailgate.authenticate-as", "noreply@contoso.test=" + SENDER);

        Run run = doctor(settings, "--from", "noreply@contoso.test", "--send-to", "bob@example.com");

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL");
        assertThat(run.code()).isEqualTo(78);
        JsonNode send = run.check("send");
        assertThat(send.path("summary").asText()).startsWith("554 5.2.252 SendAsDenied");
        assertThat(send.path("cause").asText()).contains(SENDER + " sending as noreply@contoso.test");
        assertThat(send.path("fix").asText()).contains("Add-RecipientPermission -Identity noreply@contoso.test "
                + "-AccessRights SendAs -Trustee " + SENDER);
        assertThat(smtp.received()).isEmpty();
    }

    @Test
    void from_a_send_as_address_without_send_to_warns_that_only_a_message_checks_it() {
        TestSmtpServer smtp = smtp();
        Map<String, String> settings = settings(smtp);
        settings.put("mailgate.authenticate-as", SENDER);

        Run run = doctor(settings, "--from", "noreply@contoso.test");

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "WARN", "SKIP");
        assertThat(run.code()).isZero();
        assertThat(run.check("sender").path("fix").asText()).contains("--send-to");
    }

    @Test
    void mail_from_refused_5_7_708_fails_sender_with_a_support_request() {
        TestSmtpServer smtp = smtp();
        smtp.replyToNext(Stage.MAIL_FROM, 550, "5.7.708 Service unavailable. Access denied, traffic not accepted "
                + "from this IP");

        Run run = doctor(settings(smtp));

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        JsonNode sender = run.check("sender");
        assertThat(sender.path("summary").asText()).startsWith("550 5.7.708");
        assertThat(sender.path("cause").asText()).contains("does not accept mail from this tenant");
        assertThat(sender.path("fix").asText()).contains("support request");
    }

    @Test
    void recipient_refused_fails_send() {
        TestSmtpServer smtp = smtp();
        smtp.replyToNext(Stage.RCPT_TO, 550, "5.1.1 User unknown");

        Run run = doctor(settings(smtp), "--send-to", "bob@example.com");

        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL");
        assertThat(run.code()).isEqualTo(78);
        JsonNode send = run.check("send");
        assertThat(send.path("summary").asText()).isEqualTo("550 5.1.1 User unknown");
        assertThat(send.path("cause").asText()).contains("recipient address was refused");
        assertThat(send.path("fix").asText()).contains("correct the recipient address");
        assertThat(transcript(send)).anySatisfy(line -> assertThat(line).isEqualTo("C: RCPT TO:<bob@example.com>"));
        assertThat(smtp.received()).isEmpty();
    }

    // --- the plain text report --------------------------------------------------------------------------------

    @Test
    void text_report_of_a_passing_run_without_colour() {
        TestSmtpServer smtp = smtp();

        Run run = doctorText(settings(smtp), "never");

        assertThat(run.code()).isZero();
        assertThat(run.out()).doesNotContain("\u001b");
        assertThat(unwrapped(run.out())).containsPattern("(?m)^ WARN  configuration .*\\R {7}cause: " + HOST_WARNING
                + "\\R {7}fix: {3}.*mailgate\\.smtp\\.host=smtp\\.office365\\.com");
        for (String step : List.of("dns", "tcp", "starttls", "tls", "ehlo", "token", "claims", "auth", "sender")) {
            assertThat(run.out()).containsPattern("(?m)^ PASS  " + step + " +\\S");
        }
        assertThat(run.out()).containsPattern("(?m)^ SKIP  send +no test message");
        assertThat(run.out()).containsPattern("(?m)^ {9}C: AUTH XOAUTH2 \\(user=" + SENDER.replace(".", "\\.")
                + ", auth=Bearer eyJ…\\(redacted\\)");
        assertThat(run.out()).contains("All checks passed. Read the warnings above.");
    }

    @Test
    void text_report_of_a_failing_auth_shows_cause_and_fix_without_colour() {
        TestSmtpServer smtp = smtp();
        smtp.replyToNext(Stage.AUTH, 535, "5.7.3 Authentication unsuccessful");

        Run run = doctorText(settings(smtp), "never");

        assertThat(run.code()).isEqualTo(78);
        assertThat(run.out()).doesNotContain("\u001b");
        assertThat(run.out()).containsPattern("(?m)^ PASS  tls +TLSv1\\.");
        assertThat(run.out()).containsPattern("(?m)^ FAIL  auth +535 5\\.7\\.3 Authentication unsuccessful\\R"
                + " {7}cause: the SMTP server refused authentication for " + SENDER.replace(".", "\\.") + "\\R"
                + " {7}fix: {3}the token is right");
        // the long fix is wrapped under its label; read as one text it names the exact commands
        assertThat(unwrapped(run.out())).containsPattern("(?m)^ {7}fix: {3}.*New-ServicePrincipal -AppId "
                + TestEntra.CLIENT_ID + ".*Add-MailboxPermission -Identity " + SENDER.replace(".", "\\.")
                + ".*Set-CASMailbox -Identity " + SENDER.replace(".", "\\."));
        assertThat(run.out().lines().filter(line -> line.startsWith("       cause: ")
                || line.startsWith("       fix:   ") || line.matches(" {14}\\S.*")))
                .isNotEmpty().allSatisfy(line -> assertThat(line.length()).as(line).isLessThanOrEqualTo(114));
        assertThat(run.out()).containsPattern("(?m)^ SKIP  sender +not authenticated");
        assertThat(run.out()).containsPattern("(?m)^1 check\\(s\\) failed: fix the first one \\(auth\\)");
    }

    @Test
    void text_report_of_unreadable_settings_keeps_every_problem_under_its_label() {
        Map<String, String> settings = settings(smtp());
        settings.put("mailgate.smtp.port", "notaport");
        settings.put("mailgate.sandbox", "maybe");

        Run run = doctorText(settings, "never");

        assertThat(run.code()).isEqualTo(78);
        assertThat(run.out()).containsPattern("(?m)^ FAIL  configuration +the settings cannot be read$");
        String cause = run.out().substring(run.out().indexOf("       cause: "), run.out().indexOf("       fix:   "));
        assertThat(cause).contains("mailgate.smtp.port='notaport' is not a whole number", "mailgate.sandbox='maybe'");
        // every line of the cause is indented under its label, and no bullet is left alone on a line
        assertThat(cause.lines()).allSatisfy(line -> assertThat(line).startsWith("       ")
                .doesNotMatch("\\s*-\\s*"));
    }

    @Test
    void text_report_with_colour_always_has_ansi_escapes() {
        TestSmtpServer smtp = smtp();

        Run run = doctorText(settings(smtp), "always");

        assertThat(run.code()).isZero();
        assertThat(run.out()).contains("\u001b[");
        assertThat(run.out()).containsPattern("PASS(\u001b\\[[0-9;]*m)+  tls ");
    }

    // --- secrets ----------------------------------------------------------------------------------------------

    @Test
    void neither_the_client_secret_nor_any_token_is_ever_printed() {
        TestSmtpServer smtp = smtp();
        Map<String, String> settings = settings(smtp);
        List<Run> runs = new ArrayList<>();
        runs.add(doctor(settings, "--send-to", "bob@example.com"));
        runs.add(doctorText(settings, "never", "--send-to", "bob@example.com"));
        smtp.replyToEvery(Stage.AUTH, 535, "5.7.3 Authentication unsuccessful");
        runs.add(doctor(settings));
        runs.add(doctorText(settings, "always"));

        assertThat(runs).extracting(Run::code).containsExactly(0, 0, 78, 78);
        List<String> tokens = entra.endpoint().issuedTokens();
        assertThat(tokens).hasSize(4);
        List<String> secrets = new ArrayList<>(List.of(TestEntra.SECRET));
        for (String token : tokens) {
            String[] parts = token.split("\\.");
            secrets.add(token);
            secrets.add(parts[1]);
            secrets.add(parts[2]);
            secrets.add(Base64.getEncoder().encodeToString(("user=" + SENDER + "\u0001auth=Bearer " + token
                    + "\u0001\u0001").getBytes(StandardCharsets.UTF_8)));
        }
        // the SASL form the doctor sent is among those looked for
        assertThat(smtp.saslResponses()).hasSize(4);
        for (Run run : runs) {
            for (String secret : secrets) {
                assertThat(run.out()).doesNotContain(secret);
                assertThat(run.err()).doesNotContain(secret);
            }
        }
    }

    // --- helpers ----------------------------------------------------------------------------------------------

    /** The output of one {@code mailgate doctor} run: exit code, standard output and error, and the JSON. */
    private record Run(int code, String out, String err, JsonNode json) {

        JsonNode check(String step) {
            for (JsonNode check : json.path("checks")) {
                if (step.equals(check.path("step").asText())) {
                    return check;
                }
            }
            throw new AssertionError("no check " + step + " in " + out);
        }

        List<String> statuses() {
            List<String> statuses = new ArrayList<>();
            json.path("checks").forEach(c -> statuses.add(c.path("step").asText() + "=" + c.path("status").asText()));
            return statuses;
        }
    }

    private TestSmtpServer smtp() {
        TestSmtpServer smtp = TestSmtpServer.withStartTls(TLS.serverContext(), entra.tokens());
        servers.add(smtp);
        return smtp;
    }

    private Map<String, String> settings(TestSmtpServer smtp) {
        return Gateway.realTenant(dir, entra, smtp.port(), TLS);
    }

    /** {@code mailgate doctor --json --color=never --set k=v ... <extra>}, with the exit code and JSON checked. */
    private Run doctor(Map<String, String> settings, String... extra) {
        Run run = execute(settings, List.of("--json", "--color=never"), extra);
        JsonNode json;
        try {
            json = JSON.readTree(run.out());
        } catch (IOException e) {
            throw new AssertionError("doctor --json printed no JSON (exit " + run.code() + "):\n" + run.out()
                    + "\nstderr:\n" + run.err(), e);
        }
        assertThat(json.path("exitCode").asInt()).as("exitCode in the JSON; output:%n%s%nstderr:%n%s", run.out(), run.err())
                .isEqualTo(run.code());
        assertThat(json.path("passed").asBoolean()).as("passed").isEqualTo(run.code() == 0);
        return new Run(run.code(), run.out(), run.err(), json);
    }

    /** {@code mailgate doctor --color=<colour> --set k=v ... <extra>}: the text report. */
    private Run doctorText(Map<String, String> settings, String colour, String... extra) {
        return execute(settings, List.of("--color=" + colour), extra);
    }

    private static Run execute(Map<String, String> settings, List<String> options, String... extra) {
        List<String> args = new ArrayList<>(List.of("doctor"));
        args.addAll(options);
        settings.forEach((key, value) -> {
            args.add("--set");
            args.add(key + "=" + value);
        });
        args.addAll(List.of(extra));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Cli.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args.toArray(String[]::new));
        return new Run(code, out.toString(), err.toString(), null);
    }

    /** The statuses of all eleven steps, in the doctor's order. */
    private static void assertSteps(Run run, String... statuses) {
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < STEPS.size(); i++) {
            expected.add(STEPS.get(i) + "=" + statuses[i]);
        }
        assertThat(run.statuses()).as("steps of\n%s", run.out()).containsExactlyElementsOf(expected);
    }

    /** The text report with the wrapped lines of a cause or fix joined again. */
    private static String unwrapped(String text) {
        return text.replaceAll("\\R {14}(?=\\S)", " ");
    }

    private static List<String> transcript(JsonNode check) {
        List<String> lines = new ArrayList<>();
        check.path("transcript").forEach(line -> lines.add(line.asText()));
        return lines;
    }

    /** AUTH answered with {@code 535 <text>} for a token whose claims are right: auth fails, nothing after it runs. */
    private Run authRefused(String text) {
        TestSmtpServer smtp = smtp();
        smtp.replyToNext(Stage.AUTH, 535, text);
        Run run = doctor(settings(smtp));
        assertSteps(run, "WARN", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "PASS", "FAIL", "SKIP", "SKIP");
        assertThat(run.code()).isEqualTo(78);
        assertThat(run.check("auth").path("summary").asText()).isEqualTo("535 " + text);
        assertThat(run.check("auth").path("cause").asText()).contains("refused authentication", SENDER);
        return run;
    }

    /** A PKCS#12 trust store holding all of {@code certificates}. */
    private Path trustStore(SelfSignedCertificate... certificates) {
        Path file = dir.resolve("trust-" + certificates.length + ".p12");
        try (OutputStream out = Files.newOutputStream(file)) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            for (int i = 0; i < certificates.length; i++) {
                store.setCertificateEntry("certificate-" + i, certificates[i].certificate());
            }
            store.store(out, "changeit".toCharArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        return file;
    }
}
