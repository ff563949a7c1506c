package dev.mailgate;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.mailgate.support.Gateway;
import dev.mailgate.support.PackagedGateway.Result;
import dev.mailgate.support.PackagedGateway;
import dev.mailgate.support.TestEntra;
import dev.mailgate.support.TestProxy;
import dev.mailgate.support.TestSmtpServer;

/**
 * The command line as an operator uses it: {@code java -jar target/mailgate.jar <command>} as its own process, in an
 * empty working directory, configured by environment variables; exit codes, standard output and standard error
 * asserted. Runs after {@code package} (failsafe).
 */
class CliIT {

    private static final Pattern JWT = Pattern.compile("eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]+");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A real tenant served by the test servers; folders, delivery and limits as the jar's defaults have them. */
    @RegisterExtension
    final PackagedGateway mailgate = PackagedGateway.realTenant()
            .without("mailgate.outbox.", "mailgate.data.", "mailgate.delivery.", "mailgate.limits.");

    /** The environment of a real tenant served by the test servers, as an operator would export it. */
    private Map<String, String> tenant() {
        return mailgate.environment();
    }

    // --help and usage errors --------------------------------------------------------------------------------------

    @ParameterizedTest(name = "mailgate {0} --help")
    @ValueSource(strings = {"run", "send", "token", "doctor"})
    void every_command_explains_itself_with_help(String command) throws Exception {
        Result help = mailgate.command(Map.of(), command, "--help");

        assertThat(help.code()).isZero();
        assertThat(help.out()).startsWith("Usage: mailgate " + command).contains("Exit codes:", "--set=KEY=VALUE");
    }

    @Test
    void the_top_level_help_lists_the_commands() throws Exception {
        Result help = mailgate.command(Map.of(), "--help");

        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("Usage: mailgate", "run ", "send ", "token ", "doctor ");
    }

    @Test
    void a_wrong_option_is_a_usage_error_64() throws Exception {
        Result wrong = mailgate.command(Map.of(), "send", "--to", "a@example.com", "--frmo", "b@example.com");

        assertThat(wrong.code()).isEqualTo(64);
        assertThat(wrong.err()).contains("Unknown options: '--frmo'", "Possible solutions: --from");
    }

    @Test
    void settings_given_before_the_command_count_too() throws Exception {
        Result before = mailgate.command(Map.of(), "--set", "mailgate.sandbox=maybe", "doctor");
        Result after = mailgate.command(Map.of(), "doctor", "--set", "mailgate.sandbox=maybe");

        assertThat(before.code()).as(before.all()).isEqualTo(78);
        assertThat(after.code()).as(after.all()).isEqualTo(78);
        assertThat(before.out()).contains("mailgate.sandbox='maybe'");
    }

    @Test
    void the_log_format_is_checked_and_json_output_stays_parseable_whatever_is_printed() throws Exception {
        Map<String, String> env = new LinkedHashMap<>(tenant());
        env.put("MAILGATE_LOG_FORMAT", "JSON");
        env.put("MAILGATE_SMTP_DEBUG", "true");
        Result json = mailgate.command(env, "send", "--json", "--verbose", "--to", "a@example.com", "-s", "x", "-b",
                "y");

        assertThat(json.code()).as(json.all()).isZero();
        // the report alone on standard output, though Jakarta Mail's protocol trace was on
        assertThat(JSON.readTree(json.out()).path("status").asText()).isEqualTo("sent");
        assertThat(json.err()).contains("DEBUG SMTP").containsPattern("(?m)^\\{\"timestamp\":");
        assertThat(json.all()).doesNotContain(TestEntra.SECRET);
        mailgate.entra().endpoint().issuedTokens().forEach(token -> assertThat(json.all()).doesNotContain(token));

        Result bogus = mailgate.command(Map.of("MAILGATE_LOG_FORMAT", "yaml"), "send", "--verbose", "--to",
                "a@example.com", "-s", "x", "-b", "y");
        assertThat(bogus.code()).as(bogus.all()).isZero();
        assertThat(bogus.err()).contains("MAILGATE_LOG_FORMAT='yaml' is neither text nor json; logging as text")
                .containsPattern("(?m)^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO ");
    }

    // doctor ------------------------------------------------------------------------------------------------------

    @Test
    void doctor_in_a_fresh_directory_checks_the_sandbox_and_passes() throws Exception {
        Result doctor = mailgate.command(Map.of(), "doctor");

        assertThat(doctor.code()).as(doctor.all()).isZero();
        assertThat(doctor.out()).contains("Sandbox: checking the embedded servers", " PASS  tls", " PASS  token",
                " PASS  claims", " PASS  auth", " PASS  sender", "All checks passed.")
                .doesNotContain("\u001b[");
        assertThat(JWT.matcher(doctor.all()).find()).as("a token in the output").isFalse();
    }

    @Test
    void doctor_names_the_exchange_fix_for_535_5_7_3_and_exits_78() throws Exception {
        mailgate.smtp().replyToEvery(TestSmtpServer.Stage.AUTH, 535, "5.7.3 Authentication unsuccessful");

        Result doctor = mailgate.command(tenant(), "doctor", "--color=never");

        assertThat(doctor.code()).as(doctor.all()).isEqualTo(78);
        assertThat(doctor.out()).contains(" PASS  ehlo", " PASS  token", " PASS  claims",
                " FAIL  auth          535 5.7.3 Authentication unsuccessful", " SKIP  sender",
                "1 check(s) failed: fix the first one (auth)");
        // long fixes are wrapped under their label
        assertThat(doctor.out().replaceAll("\\s*\\n\\s+", " ")).contains(
                "New-ServicePrincipal -AppId " + TestEntra.CLIENT_ID,
                "Add-MailboxPermission -Identity " + Gateway.SENDER);
        assertThat(doctor.all()).doesNotContain(TestEntra.SECRET);
        mailgate.entra().endpoint().issuedTokens().forEach(token -> assertThat(doctor.all()).doesNotContain(token));
    }

    @Test
    void doctor_json_is_one_document_with_every_step() throws Exception {
        Result doctor = mailgate.command(tenant(), "doctor", "--json", "--send-to", "bob@example.com");

        assertThat(doctor.code()).as(doctor.all()).isZero();
        JsonNode report = JSON.readTree(doctor.out());
        assertThat(report.path("passed").asBoolean()).isTrue();
        List<String> steps = new ArrayList<>();
        report.path("checks").forEach(c -> steps.add(c.path("step").asText() + "=" + c.path("status").asText()));
        // the test server is not smtp.office365.com: the configuration step says so, as a warning
        assertThat(report.path("checks").get(0).path("cause").asText()).contains("mailgate.smtp.host is localhost");
        assertThat(steps).containsExactly("configuration=WARN", "dns=PASS", "tcp=PASS", "starttls=PASS", "tls=PASS",
                "ehlo=PASS", "token=PASS", "claims=PASS", "auth=PASS", "sender=PASS", "send=PASS");
        assertThat(mailgate.smtp().awaitReceived(1).get(0).recipients()).containsExactly("bob@example.com");
    }

    // token -------------------------------------------------------------------------------------------------------

    @Test
    void token_prints_the_claims_but_not_the_token_unless_asked() throws Exception {
        Result token = mailgate.command(tenant(), "token");

        assertThat(token.code()).as(token.all()).isZero();
        assertThat(token.out()).contains("audience   https://outlook.office365.com", "roles      SMTP.SendAsApp",
                "tenant     " + TestEntra.TENANT, "app id     " + TestEntra.CLIENT_ID, "expires ", "OK:");
        assertThat(JWT.matcher(token.all()).find()).as("a token in the output").isFalse();

        Result shown = mailgate.command(tenant(), "token", "--show-token");
        assertThat(shown.code()).isZero();
        assertThat(mailgate.entra().endpoint().issuedTokens()).hasSize(2);
        assertThat(shown.out()).contains(mailgate.entra().endpoint().issuedTokens().get(1));
    }

    @Test
    void token_without_roles_is_rbac_for_applications_and_exits_0() throws Exception {
        mailgate.entra().tokens().roles(List.of());

        Result token = mailgate.command(tenant(), "token");

        assertThat(token.code()).isZero();
        assertThat(token.out()).contains("roles      (none)", "permission no Entra permission: Exchange decides "
                + "through RBAC for Applications or mailbox permissions", "OK: this token is for Exchange Online")
                .doesNotContain("WARNING");
    }

    @Test
    void token_goes_through_an_https_proxy_that_wants_basic_credentials_and_never_prints_the_password()
            throws Exception {
        try (TestProxy proxy = TestProxy.http("corp-user", "Proxy-Secret-77")) {
            Map<String, String> env = tenant();
            env.put("MAILGATE_ENTRA_PROXY", proxy.url());
            env.put("MAILGATE_ENTRA_PROXY_USER", "corp-user");
            env.put("MAILGATE_ENTRA_PROXY_PASSWORD", "Proxy-Secret-77");

            Result token = mailgate.command(env, "token");

            assertThat(token.code()).as(token.all()).isZero();
            String entra = mailgate.entra().authorityHost().replace("https://", "");
            // the JDK asks once without credentials, gets 407, and asks again with them
            assertThat(proxy.tunnels()).last().satisfies(t -> {
                assertThat(t.target()).isEqualTo(entra);
                assertThat(t.credentials()).isEqualTo("corp-user:Proxy-Secret-77");
                assertThat(t.status()).isEqualTo(200);
            });
            assertThat(token.all()).doesNotContain("Proxy-Secret-77");

            env.put("MAILGATE_ENTRA_PROXY_PASSWORD", "Bad-Proxy-Pw-3");
            Result refused = mailgate.command(env, "token");

            assertThat(refused.code()).isEqualTo(78);
            assertThat(refused.all()).contains("wants credentials for the tunnel to Entra ID (HTTP 407)",
                    "mailgate.entra.proxy-user").doesNotContain("Bad-Proxy-Pw-3");
        }
    }

    @Test
    void token_with_a_wrong_secret_explains_the_entra_error() throws Exception {
        Map<String, String> env = tenant();
        env.put("MAILGATE_ENTRA_CLIENT_SECRET", "the-secret-id-not-its-value");

        Result token = mailgate.command(env, "token", "--json");

        assertThat(token.code()).isEqualTo(78);
        JsonNode error = JSON.readTree(token.out());
        assertThat(error.path("ok").asBoolean()).isFalse();
        assertThat(error.path("error").asText()).contains("AADSTS7000215");
        assertThat(error.path("fix").asText()).contains("Value");
        assertThat(token.all()).doesNotContain("the-secret-id-not-its-value");
    }

    // send --------------------------------------------------------------------------------------------------------

    @Test
    void send_delivers_one_mail_and_exits_0() throws Exception {
        Path report = Files.writeString(mailgate.dir().resolve("report.csv"), "a,b\n1,2\n");

        Result sent = mailgate.command(tenant(), "send", "--to", "alice@example.com,bob@example.com", "--subject",
                "Nightly report", "--body", "See the attachment.", "--attach", report.toString());

        assertThat(sent.code()).as(sent.all()).isZero();
        assertThat(sent.out()).contains("Sent <", "to 2 recipient(s)", "250");
        TestSmtpServer.Received mail = mailgate.smtp().awaitReceived(1).get(0);
        assertThat(mail.recipients()).containsExactly("alice@example.com", "bob@example.com");
        assertThat(mail.mailFrom()).isEqualTo(Gateway.SENDER);
        assertThat(mail.message().getSubject()).isEqualTo("Nightly report");
        assertThat(new String(mail.data(), StandardCharsets.US_ASCII)).contains("report.csv");
    }

    @Test
    void send_in_the_sandbox_stores_the_mail_locally() throws Exception {
        Result sent = mailgate.command(Map.of(), "send", "--json", "--to", "alice@example.com", "-s", "Hi", "-b",
                "Hello");

        assertThat(sent.code()).as(sent.all()).isZero();
        assertThat(JSON.readTree(sent.out()).path("sandbox").asBoolean()).isTrue();
        try (Stream<Path> files = Files.list(mailgate.dir().resolve("data/sandbox"))) {
            List<Path> eml = files.filter(p -> p.toString().endsWith(".eml")).toList();
            assertThat(eml).hasSize(1);
            assertThat(Files.readString(eml.get(0))).contains("Subject: Hi");
        }
    }

    @Test
    void send_from_a_request_file() throws Exception {
        Files.writeString(mailgate.dir().resolve("request.json"),
                "{\"to\": [\"carol@example.com\"], \"subject\": \"From a file\", \"text\": \"Body\"}");

        Result sent = mailgate.command(tenant(), "send", "--request", "request.json");

        assertThat(sent.code()).as(sent.all()).isZero();
        assertThat(mailgate.smtp().awaitReceived(1).get(0).message().getSubject()).isEqualTo("From a file");
    }

    @Test
    void send_exit_codes_tell_a_script_what_went_wrong() throws Exception {
        Result invalid = mailgate.command(tenant(), "send", "--to", "not-an-address", "--subject", "x", "--body", "y");
        assertThat(invalid.code()).isEqualTo(65);
        assertThat(invalid.err()).contains("to[0]: 'not-an-address' is not an email address");

        Result missing = mailgate.command(tenant(), "send", "--to", "a@example.com", "--attach", "no-such-file.pdf");
        assertThat(missing.code()).isEqualTo(66);
        assertThat(missing.err()).contains("no-such-file.pdf does not exist");

        mailgate.smtp().replyToNext(TestSmtpServer.Stage.RCPT_TO, 550, "5.1.1 User unknown");
        Result unknown = mailgate.command(tenant(), "send", "--to", "nobody@example.com", "-s", "x", "-b", "y");
        assertThat(unknown.code()).as(unknown.all()).isEqualTo(67);
        assertThat(unknown.err()).contains("550 5.1.1 User unknown");

        mailgate.smtp().replyToNext(TestSmtpServer.Stage.END_OF_DATA, 451, "4.3.2 Please try again later");
        Result deferred = mailgate.command(tenant(), "send", "--to", "a@example.com", "-s", "x", "-b", "y");
        assertThat(deferred.code()).as(deferred.all()).isEqualTo(75);
        assertThat(deferred.err()).contains("temporary");

        mailgate.smtp().replyToNext(TestSmtpServer.Stage.MAIL_FROM, 550, "5.7.60 SMTP; Client does not have "
                + "permissions to send as this sender");
        Result sendAs = mailgate.command(tenant(), "send", "--to", "a@example.com", "-s", "x", "-b", "y");
        assertThat(sendAs.code()).as(sendAs.all()).isEqualTo(77);
        assertThat(sendAs.err()).contains("Add-MailboxPermission");

        Map<String, String> wrongSecret = tenant();
        wrongSecret.put("MAILGATE_ENTRA_CLIENT_SECRET", "not-the-secret-value");
        Result noToken = mailgate.command(wrongSecret, "send", "--to", "a@example.com", "-s", "x", "-b", "y");
        assertThat(noToken.code()).as(noToken.all()).isEqualTo(78);
        assertThat(noToken.err()).contains("AADSTS7000215");

        mailgate.smtp().replyToEvery(TestSmtpServer.Stage.AUTH, 535, "5.7.139 Authentication unsuccessful, "
                + "SmtpClientAuthentication is disabled for the Mailbox.");
        Result refused = mailgate.command(tenant(), "send", "--to", "a@example.com", "-s", "x", "-b", "y");
        assertThat(refused.code()).as(refused.all()).isEqualTo(77);
        assertThat(refused.err()).contains("Set-CASMailbox");

        assertThat(mailgate.smtp().received()).isEmpty();
    }

    // the gateway: delivery log as JSON, metrics ---------------------------------------------------------------------

    @Test
    void the_gateway_logs_one_json_line_per_delivery_and_counts_it_in_the_metrics() throws Exception {
        mailgate.env("MAILGATE_LOG_FORMAT", "json").with("mailgate.broker.port", "0")
                .with("mailgate.outbox.settle-time", "200ms").start();
        Files.writeString(mailgate.dir().resolve("outbox/hello.json"),
                "{\"to\": [\"alice@example.com\", \"bob@example.com\"], \"subject\": \"Hi\", \"text\": \"Hello\"}");
        mailgate.await(Duration.ofSeconds(30),
                () -> mailgate.logText().contains("\"loggerName\":\"mailgate.delivery\""));

        JsonNode line = null;
        for (String text : Files.readAllLines(mailgate.log())) {
            JsonNode parsed = JSON.readTree(text);
            if (parsed.path("loggerName").asText().equals("mailgate.delivery")) {
                line = parsed;
            }
        }
        assertThat(line).isNotNull();
        Map<String, String> fields = new LinkedHashMap<>();
        line.path("kvpList").forEach(kv -> kv.fields().forEachRemaining(f -> fields.put(f.getKey(),
                f.getValue().asText())));
        assertThat(fields).containsEntry("outcome", "sent").containsEntry("channel", "outbox")
                .containsEntry("mailbox", Gateway.SENDER).containsEntry("recipients", "2")
                .containsKeys("id", "messageId", "durationMs", "reply");
        assertThat(fields.get("reply")).startsWith("250");
        assertThat(mailgate.logText()).doesNotContain("Hello\"").doesNotContain(TestEntra.SECRET);

        String key = Files.readString(mailgate.dir().resolve("data/http-api-key")).trim();
        HttpResponse<String> metrics = mailgate.http().send("GET", "/metrics", null, null,
                Map.of("Authorization", "Bearer " + key));
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("mailgate_messages_sent_total{channel=\"outbox\",mailbox=\""
                + Gateway.SENDER + "\"} 1.0", "mailgate_token_refreshes_total 1.0",
                "mailgate_send_duration_seconds_count{mailbox=\"" + Gateway.SENDER + "\"} 1");
        assertThat(mailgate.http().get(null, "/metrics").statusCode()).isEqualTo(401);
    }
}
