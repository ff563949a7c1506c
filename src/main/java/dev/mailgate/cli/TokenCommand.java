package dev.mailgate.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;


import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.mailgate.auth.AccessToken;
import dev.mailgate.auth.TokenClaims;
import dev.mailgate.auth.TokenException;
import dev.mailgate.config.Settings;

/** {@code mailgate token}: get a token the way the gateway does and say what it grants. */
@Command(name = "token", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, sortOptions = false,
        description = {"Acquire an access token with the configured credentials and print its decoded claims: "
                + "audience, roles or scopes, tenant, app id, issued and expiry times.",
                "Warns when the audience is not Exchange Online, the token is a user's, or its tenant or app are "
                        + "not the configured ones. No roles is fine: with RBAC for Applications Exchange grants the "
                        + "app itself (mailgate doctor asks it). The token itself is never printed unless "
                        + "--show-token is given."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the token is for Exchange Online and this app", "69:Entra ID cannot be reached",
                "78:Entra ID refused the request, or the token cannot send mail (see the warnings)"})
final class TokenCommand extends OneShotCommand implements Callable<Integer> {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
            .withZone(ZoneOffset.UTC);

    @Option(names = "--json", description = "Print the claims as JSON.")
    boolean json;

    @Option(names = "--show-token", description = "Also print the access token itself (it is a bearer credential: "
            + "anyone who sees it can send mail as the app until it expires).")
    boolean showToken;



    @Override
    public Integer call() throws Exception {
        Logs.forCommand(verbose);
        PrintWriter out = spec.commandLine().getOut();
        try (Target target = Target.open(settings())) {
            Settings.Entra entra = target.settings.entra();
            AccessToken token;
            try {
                token = target.tokenSource().fetch();
            } catch (TokenException e) {
                if (json) {
                    Map<String, Object> error = new LinkedHashMap<>();
                    error.put("ok", false);
                    error.put("error", e.getMessage());
                    error.put("fix", e.advice());
                    out.println(json(error));
                } else {
                    spec.commandLine().getErr().println("No token: " + e.getMessage());
                }
                return e.kind() == TokenException.Kind.UNREACHABLE ? ExitCodes.UNAVAILABLE : ExitCodes.CONFIG;
            }
            Optional<TokenClaims> claims = TokenClaims.of(token.value());
            List<TokenClaims.Problem> problems = claims.map(c -> c.problems(entra.clientId(), entra.tenantId(),
                    entra.cloud()))
                    .orElse(List.of(new TokenClaims.Problem("token", "the token is not a JWT, so its claims cannot be "
                            + "read", "check mailgate.entra.scope=" + entra.cloud().scope())));
            if (json) {
                out.println(json(claimsJson(target, token, claims, problems)));
            } else {
                text(out, target, token, claims, problems);
            }
            return problems.isEmpty() ? ExitCodes.OK : ExitCodes.CONFIG;
        }
    }

    private void text(PrintWriter out, Target target, AccessToken token, Optional<TokenClaims> claims,
            List<TokenClaims.Problem> problems) {
        Settings.Entra entra = target.settings.entra();
        if (target.sandbox()) {
            out.println("Sandbox: this token comes from the embedded token endpoint (no tenant is configured; set "
                    + "mailgate.entra.tenant-id to use yours).");
        }
        out.println("Token from " + entra.authorityHost() + "/" + entra.tenantId() + " for app " + entra.clientId());
        claims.ifPresent(c -> {
            row(out, "audience", c.audience());
            row(out, "roles", c.roles().isEmpty() ? "(none)" : String.join(" ", c.roles()));
            row(out, "permission", c.permission());
            if (!c.scopes().isEmpty()) {
                row(out, "scopes", String.join(" ", c.scopes()));
            }
            row(out, "tenant", c.tenantId());
            row(out, "app id", c.appId() + (c.appName().isEmpty() ? "" : " (" + c.appName() + ")"));
            row(out, "issued", c.issuedAt() == null ? "?" : TIME.format(c.issuedAt()));
        });
        row(out, "expires", TIME.format(token.expiresAt()) + " (in " + minutes(token.remainingAt(Instant.now()))
                + ")");
        if (problems.isEmpty()) {
            out.println("OK: this token is for Exchange Online. Whether the app may send as a mailbox is Exchange's "
                    + "answer to AUTH and MAIL FROM: mailgate doctor tries it.");
        }
        for (TokenClaims.Problem p : problems) {
            out.println("WARNING: " + p.finding());
            out.println("  fix: " + p.fix());
        }
        if (showToken) {
            out.println("access token (a bearer credential: do not share it):");
            out.println(token.value());
        }
    }

    private Map<String, Object> claimsJson(Target target, AccessToken token, Optional<TokenClaims> claims,
            List<TokenClaims.Problem> problems) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("ok", problems.isEmpty());
        body.put("sandbox", target.sandbox());
        body.put("authority", target.settings.entra().authorityHost() + "/" + target.settings.entra().tenantId());
        claims.ifPresent(c -> {
            body.put("audience", c.audience());
            body.put("roles", c.roles());
            body.put("permission", c.permission());
            body.put("scopes", c.scopes());
            body.put("tenantId", c.tenantId());
            body.put("appId", c.appId());
            body.put("issuedAt", c.issuedAt() == null ? null : c.issuedAt().toString());
        });
        body.put("expiresAt", token.expiresAt().toString());
        body.put("warnings", problems.stream().map(p -> Map.of("claim", p.claim(), "finding", p.finding(), "fix",
                p.fix())).toList());
        if (showToken) {
            body.put("accessToken", token.value());
        }
        return body;
    }

    private static void row(PrintWriter out, String name, String value) {
        out.printf("  %-10s %s%n", name, value);
    }

    private static String minutes(Duration d) {
        return d.isNegative() ? "expired" : d.toMinutes() + " min";
    }
}
