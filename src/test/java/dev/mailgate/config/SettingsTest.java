package dev.mailgate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SettingsTest {

    private static Settings read(Map<String, String> values) {
        return Settings.read(key -> Optional.ofNullable(values.get(key)));
    }

    private static List<String> problems(Map<String, String> values) {
        Throwable thrown = catchThrowable(() -> read(values));
        assertThat(thrown).isInstanceOf(ConfigurationException.class);
        return ((ConfigurationException) thrown).problems();
    }

    /** A complete configuration for sending through Exchange Online, to be spoilt by each test. */
    private static Map<String, String> real() {
        Map<String, String> m = new HashMap<>();
        m.put("mailgate.sandbox", "false");
        m.put("mailgate.entra.tenant-id", "4a1e2f3c-1111-2222-3333-444455556666");
        m.put("mailgate.entra.client-id", "9d8c7b6a-aaaa-bbbb-cccc-ddddeeeeffff");
        m.put("mailgate.entra.client-secret", "s3cret");
        m.put("mailgate.sender", "sender@example.com");
        return m;
    }

    // --- defaults ---------------------------------------------------------------------------------------

    @Test
    void runs_in_the_sandbox_when_no_tenant_is_set() {
        assertThat(read(Map.of()).sandbox()).isTrue();
    }

    @Test
    void defaults_to_exchange_online_submission() {
        Settings s = read(Map.of());

        assertThat(s.smtp().host()).isEqualTo("smtp.office365.com");
        assertThat(s.smtp().port()).isEqualTo(587);
        assertThat(s.entra().authorityHost()).isEqualTo("https://login.microsoftonline.com");
        assertThat(s.entra().scope()).isEqualTo("https://outlook.office365.com/.default");
    }

    @Test
    void defaults_to_pooled_connections_and_the_automatic_xoauth2_form() {
        Settings.Smtp smtp = read(Map.of()).smtp();

        assertThat(smtp.pool()).isTrue();
        assertThat(smtp.idleTimeout()).hasSeconds(30);
        assertThat(smtp.validateAfter()).hasSeconds(2);
        assertThat(smtp.xoauth2Form()).isEqualTo("auto");
        assertThat(read(Map.of("mailgate.smtp.xoauth2-form", "Two-Line")).smtp().xoauth2Form()).isEqualTo("two-line");
    }

    @Test
    void authenticate_as_is_one_mailbox_or_sender_rules_per_channel_with_a_default() {
        Settings s = read(Map.of("mailgate.authenticate-as", "noreply@contoso.com=mailer@contoso.com, "
                + "billing.contoso.com=billing@contoso.com", "mailgate.outbox.authenticate-as", "scanner@contoso.com"));

        SenderRulesView http = new SenderRulesView(s, "http");
        assertThat(http.mailboxFor("noreply@contoso.com")).isEqualTo("mailer@contoso.com");
        assertThat(http.mailboxFor("Invoices@Billing.Contoso.com")).isEqualTo("billing@contoso.com");
        assertThat(http.mailboxFor("alice@contoso.com")).isEqualTo("alice@contoso.com");
        SenderRulesView outbox = new SenderRulesView(s, "outbox");
        assertThat(outbox.mailboxFor("noreply@contoso.com")).isEqualTo("scanner@contoso.com");
        assertThat(outbox.mailboxFor("anyone@contoso.com")).isEqualTo("scanner@contoso.com");
    }

    @Test
    void an_authenticate_as_that_is_not_a_mailbox_is_named_with_the_form_to_write() {
        assertThat(problems(Map.of("mailgate.authenticate-as", "noreply@contoso.com=mailer, =x@contoso.com")))
                .containsExactly("mailgate.authenticate-as='mailer' is not a mailbox address; write it like "
                        + "mailgate@contoso.com", "mailgate.authenticate-as: '=x@contoso.com' names no sender before "
                        + "'='; write <sender>=<mailbox>, e.g. noreply@contoso.com=mailer@contoso.com, or only the "
                        + "mailbox");
    }

    /** A channel's rules as the gateway builds them. */
    private record SenderRulesView(Settings settings, String channel) {
        String mailboxFor(String from) {
            return dev.mailgate.request.SenderRules.of(settings.senders().get(channel)).mailboxFor(from);
        }
    }

    @Test
    void one_cloud_setting_sets_the_login_host_the_scope_and_the_smtp_host() {
        Settings gccHigh = read(Map.of("mailgate.cloud", "usgov-gcchigh"));
        Settings dod = read(Map.of("mailgate.cloud", "usgov-dod"));
        Settings china = read(Map.of("mailgate.cloud", "China"));

        assertThat(gccHigh.entra().authorityHost()).isEqualTo("https://login.microsoftonline.us");
        assertThat(gccHigh.entra().scope()).isEqualTo("https://outlook.office365.us/.default");
        assertThat(gccHigh.smtp().host()).isEqualTo("outlook.office365.us");
        assertThat(dod.entra().authorityHost()).isEqualTo("https://login.microsoftonline.us");
        assertThat(dod.entra().scope()).isEqualTo("https://webmail.apps.mil/.default");
        assertThat(dod.smtp().host()).isEqualTo("outlook-dod.office365.us");
        assertThat(china.entra().authorityHost()).isEqualTo("https://login.partner.microsoftonline.cn");
        assertThat(china.entra().scope()).isEqualTo("https://partner.outlook.cn/.default");
        assertThat(china.smtp().host()).isEqualTo("smtp.partner.outlook.cn");
        assertThat(read(Map.of()).entra().cloud()).isEqualTo(dev.mailgate.config.Cloud.GLOBAL);
    }

    @Test
    void individual_keys_still_override_the_cloud() {
        Settings s = read(Map.of("mailgate.cloud", "usgov-gcchigh", "mailgate.smtp.host", "smtp.office365.us"));

        assertThat(s.smtp().host()).isEqualTo("smtp.office365.us");
        assertThat(s.entra().scope()).isEqualTo("https://outlook.office365.us/.default");
    }

    @Test
    void an_unknown_cloud_names_the_choices() {
        assertThat(problems(Map.of("mailgate.cloud", "germany"))).containsExactly("mailgate.cloud='germany' must be "
                + "one of global, usgov-gcchigh, usgov-dod, china (global includes GCC)");
    }

    @Test
    void proxies_are_urls_with_their_credentials_in_keys_of_their_own() {
        Settings s = read(Map.of("mailgate.smtp.proxy", "socks5://proxy.corp:1080", "mailgate.smtp.proxy-user", "relay",
                "mailgate.smtp.proxy-password", "pw", "mailgate.entra.proxy", "http://proxy.corp:3128"));

        assertThat(s.smtp().proxy()).hasValueSatisfying(p -> {
            assertThat(p.socks()).isTrue();
            assertThat(p.host()).isEqualTo("proxy.corp");
            assertThat(p.port()).isEqualTo(1080);
            assertThat(p.user()).contains("relay");
            assertThat(p).hasToString("socks5://proxy.corp:1080 as relay");
        });
        assertThat(s.entra().proxy()).hasValueSatisfying(p -> assertThat(p.address())
                .isEqualTo("http://proxy.corp:3128"));
        assertThat(read(Map.of()).smtp().proxy()).isEmpty();
    }

    @Test
    void a_proxy_url_with_a_password_or_without_a_port_is_refused_naming_the_form() {
        assertThat(problems(Map.of("mailgate.entra.proxy", "http://me:secret@proxy.corp:3128")))
                .containsExactly("mailgate.entra.proxy holds a user or password: put the user in "
                        + "mailgate.entra.proxy-user and the password in MAILGATE_ENTRA_PROXY_PASSWORD, never in the URL");
        assertThat(problems(Map.of("mailgate.smtp.proxy", "http://me:p@ss#1@proxy.corp:3128"))).singleElement()
                .satisfies(p -> assertThat(p).contains("holds a user or password").doesNotContain("p@ss#1"));
        assertThat(problems(Map.of("mailgate.entra.proxy", "socks5://proxy.corp:1080"))).containsExactly(
                "mailgate.entra.proxy='socks5://proxy.corp:1080' must be http://proxy.corp:3128 (scheme, host and port)");
        assertThat(problems(Map.of("mailgate.smtp.proxy", "proxy.corp"))).singleElement().satisfies(p ->
                assertThat(p).contains("http://proxy.corp:3128 or socks5://proxy.corp:1080"));
    }

    @Test
    void an_unknown_xoauth2_form_names_the_choices() {
        assertThat(problems(Map.of("mailgate.smtp.xoauth2-form", "three-line"))).containsExactly(
                "mailgate.smtp.xoauth2-form='three-line' must be one of auto, initial-response, two-line");
    }

    @Test
    void defaults_token_timing() {
        Settings.Token t = read(Map.of()).token();

        assertThat(t.refreshMargin()).isEqualTo(Duration.ofMinutes(10));
        assertThat(t.refreshAhead()).isEqualTo(Duration.ofMinutes(5));
        assertThat(t.failureBackoff()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void defaults_to_exchange_online_limits() {
        Settings.Limits limits = read(Map.of()).limits();

        assertThat(limits.maxRecipients()).isEqualTo(500);
        assertThat(limits.maxMessageBytes()).isEqualTo(35L * 1024 * 1024);
    }

    @Test
    void defaults_the_outbox_read_timeout_and_stalled_after() {
        Settings.Outbox outbox = read(Map.of()).outbox();

        assertThat(outbox.readTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(outbox.stalledAfter()).isEqualTo(Duration.ofMinutes(5));
    }

    @Test
    void rejects_a_stalled_after_shorter_than_a_file_takes_to_be_picked_up() {
        assertThat(problems(Map.of("mailgate.outbox.settle-time", "2s", "mailgate.outbox.poll-interval", "500ms",
                "mailgate.outbox.stalled-after", "3s"))).singleElement().asString()
                .contains("mailgate.outbox.stalled-after=3s is shorter than a file takes to be picked up",
                        "3500 ms");
    }

    @Test
    void puts_the_attachments_folder_inside_the_outbox_by_default() {
        Settings s = read(Map.of("mailgate.outbox.dir", "/srv/mail/outbox"));

        assertThat(s.outbox().attachmentsDir()).isEqualTo(Path.of("/srv/mail/outbox/attachments"));
        assertThat(s.outbox().settleTime()).isEqualTo(Duration.ofSeconds(2));
        assertThat(s.outbox().pollInterval()).isEqualTo(Duration.ofMillis(500));
    }

    @Test
    void treats_blank_values_as_unset() {
        Settings s = read(Map.of("mailgate.smtp.host", "   ", "mailgate.entra.tenant-id", " "));

        assertThat(s.smtp().host()).isEqualTo("smtp.office365.com");
        assertThat(s.sandbox()).isTrue();
    }

    // --- values -----------------------------------------------------------------------------------------

    @Test
    void reads_durations_in_camel_and_iso_forms() {
        Settings s = read(Map.of("mailgate.token.refresh-margin", "15m", "mailgate.token.refresh-ahead", "PT2M",
                "mailgate.smtp.read-timeout", "1m30s"));

        assertThat(s.token().refreshMargin()).isEqualTo(Duration.ofMinutes(15));
        assertThat(s.token().refreshAhead()).isEqualTo(Duration.ofMinutes(2));
        assertThat(s.smtp().readTimeout()).isEqualTo(Duration.ofSeconds(90));
    }

    @Test
    void reads_sizes_with_units() {
        assertThat(read(Map.of("mailgate.limits.max-message-size", "512KB")).limits().maxMessageBytes())
                .isEqualTo(512L * 1024);
        assertThat(read(Map.of("mailgate.limits.max-message-size", "10 mb")).limits().maxMessageBytes())
                .isEqualTo(10L * 1024 * 1024);
        assertThat(read(Map.of("mailgate.limits.max-message-size", "1048576")).limits().maxMessageBytes())
                .isEqualTo(1048576L);
    }

    @Test
    void reports_several_bad_values_together_naming_each_key() {
        List<String> problems = problems(Map.of(
                "mailgate.smtp.port", "abc",
                "mailgate.token.refresh-margin", "ten minutes",
                "mailgate.delivery.backoff-multiplier", "0.5",
                "mailgate.sandbox", "maybe"));

        assertThat(problems).hasSize(4);
        assertThat(problems).anySatisfy(p -> assertThat(p).startsWith("mailgate.smtp.port='abc'")
                .contains("not a whole number"));
        assertThat(problems).anySatisfy(p -> assertThat(p).startsWith("mailgate.token.refresh-margin='ten minutes'")
                .contains("not a duration"));
        assertThat(problems).anySatisfy(p -> assertThat(p).startsWith("mailgate.delivery.backoff-multiplier='0.5'")
                .contains("at least 1"));
        assertThat(problems).anySatisfy(p -> assertThat(p).startsWith("mailgate.sandbox='maybe'")
                .contains("auto"));
    }

    @Test
    void lists_every_problem_in_the_exception_message() {
        Throwable thrown = catchThrowable(() -> read(Map.of("mailgate.smtp.port", "abc", "mailgate.sandbox",
                "maybe")));

        assertThat(thrown).hasMessageContaining("Mailgate is not configured correctly")
                .hasMessageContaining("\n  - mailgate.smtp.port='abc'")
                .hasMessageContaining("\n  - mailgate.sandbox='maybe'");
    }

    @Test
    void rejects_a_port_out_of_range() {
        assertThat(problems(Map.of("mailgate.smtp.port", "70000")))
                .containsExactly("mailgate.smtp.port=70000 is not a TCP port; use a number from 1 to 65535");
    }

    @Test
    void rejects_port_zero() {
        assertThat(problems(Map.of("mailgate.smtp.port", "0"))).singleElement()
                .satisfies(p -> assertThat(p).startsWith("mailgate.smtp.port=0 is not a TCP port"));
    }

    @Test
    void rejects_a_negative_duration() {
        assertThat(problems(Map.of("mailgate.token.failure-backoff", "-PT5S"))).singleElement()
                .satisfies(p -> assertThat(p).startsWith("mailgate.token.failure-backoff='-PT5S' is not a duration"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "10M", "1H", "5x", "-5s", "30 s", "1.5s"})
    void rejects_a_duration_that_camel_would_silently_read_as_zero_or_fail_on(String value) {
        assertThat(problems(Map.of("mailgate.smtp.read-timeout", value))).singleElement()
                .satisfies(p -> assertThat(p)
                        .startsWith("mailgate.smtp.read-timeout='" + value + "' is not a duration"));
    }

    @Test
    void reads_plain_numbers_as_milliseconds() {
        assertThat(read(Map.of("mailgate.outbox.poll-interval", "250")).outbox().pollInterval())
                .isEqualTo(Duration.ofMillis(250));
    }

    @Test
    void rejects_zero_recipients_as_a_limit() {
        assertThat(problems(Map.of("mailgate.limits.max-recipients", "0")))
                .containsExactly("mailgate.limits.max-recipients=0 must be at least 1");
    }

    @Test
    void rejects_a_size_without_a_number() {
        assertThat(problems(Map.of("mailgate.limits.max-message-size", "big"))).singleElement()
                .satisfies(p -> assertThat(p).startsWith("mailgate.limits.max-message-size='big' is not a size"));
    }

    @Test
    void rejects_a_boolean_that_is_neither_true_nor_false() {
        assertThat(problems(Map.of("mailgate.smtp.debug", "yes")))
                .containsExactly("mailgate.smtp.debug='yes' must be true or false");
    }

    // --- sending for real -------------------------------------------------------------------------------

    @Test
    void accepts_a_complete_real_configuration() {
        Settings s = read(real());

        assertThat(s.sandbox()).isFalse();
        assertThat(s.sender()).contains("sender@example.com");
        assertThat(s.entra().clientSecret()).contains("s3cret");
    }

    @Test
    void leaves_the_sandbox_when_a_tenant_is_set() {
        Map<String, String> m = real();
        m.remove("mailgate.sandbox");

        assertThat(read(m).sandbox()).isFalse();
    }

    @Test
    void stays_in_the_sandbox_when_forced_even_with_a_tenant() {
        Map<String, String> m = real();
        m.put("mailgate.sandbox", "true");

        assertThat(read(m).sandbox()).isTrue();
    }

    @Test
    void reports_each_missing_key_when_the_sandbox_is_off() {
        List<String> problems = problems(Map.of("mailgate.sandbox", "false"));

        assertThat(problems).hasSize(4);
        assertThat(problems).anySatisfy(p -> assertThat(p).startsWith("mailgate.entra.tenant-id is empty"));
        assertThat(problems).anySatisfy(p -> assertThat(p).startsWith("mailgate.entra.client-id is empty"));
        assertThat(problems).anySatisfy(p -> assertThat(p).startsWith("no client credential")
                .contains("MAILGATE_ENTRA_CLIENT_SECRET"));
        assertThat(problems).anySatisfy(p -> assertThat(p).startsWith("mailgate.sender is empty"));
    }

    @Test
    void rejects_two_client_credentials() {
        Map<String, String> m = real();
        m.put("mailgate.entra.pkcs12-file", "/etc/mailgate/app.p12");

        assertThat(problems(m)).singleElement()
                .satisfies(p -> assertThat(p).contains("more than one client credential"));
    }

    @Test
    void rejects_a_certificate_without_its_private_key() {
        Map<String, String> m = real();
        m.remove("mailgate.entra.client-secret");
        m.put("mailgate.entra.certificate-file", "/etc/mailgate/app.crt");

        assertThat(problems(m)).singleElement().satisfies(p -> assertThat(p)
                .contains("mailgate.entra.certificate-file and mailgate.entra.private-key-file go together"));
    }

    @Test
    void accepts_a_certificate_with_its_private_key() {
        Map<String, String> m = real();
        m.remove("mailgate.entra.client-secret");
        m.put("mailgate.entra.certificate-file", "/etc/mailgate/app.crt");
        m.put("mailgate.entra.private-key-file", "/etc/mailgate/app.key");

        assertThat(read(m).entra().certificateFile()).contains(Path.of("/etc/mailgate/app.crt"));
    }

    @Test
    void rejects_an_authority_host_without_https() {
        Map<String, String> m = real();
        m.put("mailgate.entra.authority-host", "http://login.microsoftonline.com");

        assertThat(problems(m)).singleElement().satisfies(p -> assertThat(p).startsWith(
                "mailgate.entra.authority-host='http://login.microsoftonline.com' must start with https://"));
    }

    @Test
    void points_a_sandboxed_copy_at_the_embedded_servers() {
        Settings s = read(Map.of()).withSandbox("localhost", 2525, "https://localhost:8443", "sandbox-tenant",
                "sandbox-client", "sandbox-secret", "mailgate@sandbox.test");

        assertThat(s.sandbox()).isTrue();
        assertThat(s.smtp().host()).isEqualTo("localhost");
        assertThat(s.smtp().port()).isEqualTo(2525);
        assertThat(s.entra().authorityHost()).isEqualTo("https://localhost:8443");
        assertThat(s.entra().clientSecret()).contains("sandbox-secret");
        assertThat(s.sender()).contains("mailgate@sandbox.test");
        assertThat(s.trust()).isEmpty();
    }

    @Test
    void a_sender_that_is_not_a_mailbox_address_is_a_problem_in_every_mode() {
        assertThat(problems(Map.of("mailgate.sender", "mailgate")))
                .anySatisfy(p -> assertThat(p).contains("mailgate.sender='mailgate' is not a mailbox address"));
    }

    @Test
    void zero_timeouts_are_refused_because_they_mean_waiting_forever() {
        assertThat(problems(Map.of("mailgate.smtp.read-timeout", "0s", "mailgate.smtp.write-timeout", "0")))
                .anySatisfy(p -> assertThat(p).contains("mailgate.smtp.read-timeout=0s would mean waiting forever"))
                .anySatisfy(p -> assertThat(p).contains("mailgate.smtp.write-timeout=0 would mean waiting forever"));
    }

    @Test
    void client_secret_and_client_secret_file_together_are_a_problem() {
        Map<String, String> values = new java.util.HashMap<>(real());
        values.put("mailgate.entra.client-secret-file", "/run/secrets/mailgate");

        assertThat(problems(values)).anySatisfy(p -> assertThat(p).contains(
                "both mailgate.entra.client-secret and mailgate.entra.client-secret-file are set"));
    }
}
