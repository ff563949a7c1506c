package dev.mailgate.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.mailgate.config.Cloud;

/** Reading what an Entra ID token grants, and what is wrong with it for sending mail. */
class TokenClaimsTest {

    private static final String TENANT = "11111111-2222-4333-8444-555555555555";
    private static final String APP = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

    private static String jwt(String claimsJson) {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        return b64.encodeToString("{\"typ\":\"JWT\",\"alg\":\"RS256\"}".getBytes(StandardCharsets.UTF_8)) + "."
                + b64.encodeToString(claimsJson.getBytes(StandardCharsets.UTF_8)) + ".c2lnbmF0dXJl";
    }

    @Test
    void reads_an_exchange_app_only_token() {
        TokenClaims claims = TokenClaims.of(jwt("{\"aud\":\"https://outlook.office365.com\",\"iat\":1795900000,"
                + "\"exp\":1795903599,\"appid\":\"" + APP + "\",\"app_displayname\":\"Mailgate\",\"roles\":"
                + "[\"SMTP.SendAsApp\"],\"tid\":\"" + TENANT + "\"}")).orElseThrow();

        assertThat(claims.audience()).isEqualTo("https://outlook.office365.com");
        assertThat(claims.roles()).containsExactly("SMTP.SendAsApp");
        assertThat(claims.tenantId()).isEqualTo(TENANT);
        assertThat(claims.appId()).isEqualTo(APP);
        assertThat(claims.appName()).isEqualTo("Mailgate");
        assertThat(claims.issuedAt()).isEqualTo(Instant.ofEpochSecond(1795900000));
        assertThat(claims.expiresAt()).isEqualTo(Instant.ofEpochSecond(1795903599));
        assertThat(claims.problems(APP, TENANT, Cloud.GLOBAL)).isEmpty();
    }

    @Test
    void accepts_exchange_by_its_resource_id_and_v2_tokens_azp() {
        TokenClaims claims = TokenClaims.of(jwt("{\"aud\":\"00000002-0000-0ff1-ce00-000000000000\",\"azp\":\"" + APP
                + "\",\"roles\":[\"SMTP.SendAsApp\"],\"tid\":\"" + TENANT + "\"}")).orElseThrow();

        assertThat(claims.appId()).isEqualTo(APP);
        assertThat(claims.problems(APP, TENANT, Cloud.GLOBAL)).isEmpty();
    }

    @Test
    void a_graph_token_is_judged_by_its_audience_alone() {
        TokenClaims claims = TokenClaims.of(jwt("{\"aud\":\"https://graph.microsoft.com\",\"appid\":\"" + APP
                + "\",\"tid\":\"" + TENANT + "\"}")).orElseThrow();

        List<TokenClaims.Problem> problems = claims.problems(APP, TENANT, Cloud.GLOBAL);
        assertThat(problems).extracting(TokenClaims.Problem::claim).containsExactly("aud");
        assertThat(problems.get(0).fix()).contains("mailgate.entra.scope=https://outlook.office365.com/.default");
    }

    @Test
    void no_roles_is_rbac_for_applications_and_no_problem() {
        // RBAC for Applications: Exchange grants the app in its own role assignments, the token has no roles claim
        TokenClaims claims = TokenClaims.of(jwt("{\"aud\":\"https://outlook.office365.com\",\"appid\":\"" + APP
                + "\",\"tid\":\"" + TENANT + "\"}")).orElseThrow();

        assertThat(claims.problems(APP, TENANT, Cloud.GLOBAL)).isEmpty();
        assertThat(claims.permission()).isEqualTo("no Entra permission: Exchange decides through RBAC for "
                + "Applications or mailbox permissions");
    }

    @Test
    void other_roles_without_send_as_app_leave_the_decision_to_exchange_too() {
        TokenClaims claims = TokenClaims.of(jwt("{\"aud\":\"https://outlook.office365.com\",\"appid\":\"" + APP
                + "\",\"roles\":[\"full_access_as_app\"],\"tid\":\"" + TENANT + "\"}")).orElseThrow();

        assertThat(claims.problems(APP, TENANT, Cloud.GLOBAL)).isEmpty();
        assertThat(claims.permission()).startsWith("no Entra permission");
    }

    @Test
    void the_classic_entra_permission_is_named() {
        TokenClaims claims = TokenClaims.of(jwt("{\"aud\":\"https://outlook.office365.com\",\"appid\":\"" + APP
                + "\",\"roles\":[\"SMTP.SendAsApp\"],\"tid\":\"" + TENANT + "\"}")).orElseThrow();

        assertThat(claims.permission()).startsWith("Entra permission SMTP.SendAsApp");
    }

    @Test
    void a_national_cloud_token_passes_in_its_cloud_and_names_mailgate_cloud_elsewhere() {
        TokenClaims gccHigh = TokenClaims.of(jwt("{\"aud\":\"https://outlook.office365.us\",\"appid\":\"" + APP
                + "\",\"tid\":\"" + TENANT + "\"}")).orElseThrow();

        assertThat(gccHigh.problems(APP, TENANT, Cloud.USGOV_GCCHIGH)).isEmpty();
        List<TokenClaims.Problem> inGlobal = gccHigh.problems(APP, TENANT, Cloud.GLOBAL);
        assertThat(inGlobal).extracting(TokenClaims.Problem::claim).containsExactly("aud");
        assertThat(inGlobal.get(0).finding()).contains("usgov-gcchigh cloud", "not the configured global cloud");
        assertThat(inGlobal.get(0).fix()).contains("mailgate.cloud=usgov-gcchigh");
        TokenClaims global = TokenClaims.of(jwt("{\"aud\":\"https://outlook.office365.com\",\"appid\":\"" + APP
                + "\",\"tid\":\"" + TENANT + "\"}")).orElseThrow();
        assertThat(global.problems(APP, TENANT, Cloud.CHINA)).singleElement().satisfies(p -> assertThat(p.fix())
                .contains("mailgate.cloud=global", "https://partner.outlook.cn/.default"));
    }

    @Test
    void a_delegated_token_is_not_what_an_application_sends_with() {
        TokenClaims claims = TokenClaims.of(jwt("{\"aud\":\"https://outlook.office365.com\",\"scp\":\"IMAP.AccessAsUser.All"
                + " Mail.Read\",\"tid\":\"" + TENANT + "\"}")).orElseThrow();

        assertThat(claims.scopes()).containsExactly("IMAP.AccessAsUser.All", "Mail.Read");
        assertThat(claims.problems(APP, TENANT, Cloud.GLOBAL)).extracting(TokenClaims.Problem::claim).containsExactly("scp");
    }

    @Test
    void another_tenant_or_app_is_named() {
        TokenClaims claims = TokenClaims.of(jwt("{\"aud\":[\"https://outlook.office365.com\"],\"appid\":"
                + "\"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb\",\"roles\":[\"SMTP.SendAsApp\"],\"tid\":"
                + "\"99999999-2222-4333-8444-555555555555\"}")).orElseThrow();

        assertThat(claims.problems(APP, TENANT, Cloud.GLOBAL)).extracting(TokenClaims.Problem::claim).containsExactly("tid", "appid");
        // a tenant given as a domain cannot be compared with the token's GUID
        assertThat(claims.problems("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "contoso.onmicrosoft.com", Cloud.GLOBAL)).isEmpty();
    }

    @Test
    void what_is_not_a_jwt_has_no_claims() {
        assertThat(TokenClaims.of("opaque-token")).isEmpty();
        assertThat(TokenClaims.of("a.b.c")).isEmpty();
        assertThat(TokenClaims.of(null)).isEmpty();
        assertThat(TokenClaims.of(jwt("[1,2]"))).isEmpty();
    }
}
