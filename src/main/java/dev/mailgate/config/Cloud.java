package dev.mailgate.config;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The Microsoft 365 cloud a tenant lives in ({@code mailgate.cloud}): where Entra ID issues tokens, which resource
 * the token is for, and where Exchange Online takes SMTP submissions. One setting sets all three; the individual keys
 * ({@code mailgate.entra.authority-host}, {@code mailgate.entra.scope}, {@code mailgate.smtp.host}) still override.
 * <p>
 * Sources, as read on 2026-12-07:
 * <ul>
 * <li>authority hosts: Microsoft Entra "National clouds" (learn.microsoft.com/entra/identity-platform/
 * authentication-national-cloud), table "Microsoft Entra authentication endpoints": global
 * {@code https://login.microsoftonline.com}, US Government {@code https://login.microsoftonline.us}, China operated by
 * 21Vianet {@code https://login.partner.microsoftonline.cn}; GCC uses the global endpoints (Microsoft Graph "National
 * cloud deployments");</li>
 * <li>the Exchange Online resource of each cloud: "Connect-ExchangeOnline" (-ConnectionUri per environment:
 * {@code outlook.office365.us} for GCC High, {@code webmail.apps.mil} for DoD, {@code partner.outlook.cn} for
 * 21Vianet) and "Authenticate an IMAP, POP or SMTP connection using OAuth" for the global
 * {@code https://outlook.office365.com/.default};</li>
 * <li>SMTP submission hosts: the global {@code smtp.office365.com} from the same OAuth page and "How to set up a
 * multifunction device or application to send email"; for the national clouds, the hosts the Microsoft 365 endpoint
 * lists give for TCP 587 ("Office 365 U.S. Government GCC High endpoints" {@code outlook.office365.us}, "... DoD
 * endpoints" {@code outlook-dod.office365.us}, "Office 365 operated by 21Vianet endpoints"
 * {@code *.partner.outlook.cn}, of which {@code smtp.partner.outlook.cn}).</li>
 * </ul>
 * Microsoft's SMTP OAuth page does not name the national clouds' {@code .default} scopes or SMTP hosts itself: those
 * are the resources and port-587 hosts above, and README "National clouds" says so.
 */
public enum Cloud {

    GLOBAL("global", "https://login.microsoftonline.com", "https://outlook.office365.com", "smtp.office365.com",
            List.of("https://outlook.office.com")),
    USGOV_GCCHIGH("usgov-gcchigh", "https://login.microsoftonline.us", "https://outlook.office365.us",
            "outlook.office365.us", List.of()),
    USGOV_DOD("usgov-dod", "https://login.microsoftonline.us", "https://webmail.apps.mil",
            "outlook-dod.office365.us", List.of("https://outlook-dod.office365.us")),
    CHINA("china", "https://login.partner.microsoftonline.cn", "https://partner.outlook.cn",
            "smtp.partner.outlook.cn", List.of());

    /** Exchange Online's application id, which a token may name as its audience instead of the resource. */
    public static final String EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000";

    private final String key;
    private final String authorityHost;
    private final String exchangeResource;
    private final String smtpHost;
    private final List<String> otherAudiences;

    Cloud(String key, String authorityHost, String exchangeResource, String smtpHost, List<String> otherAudiences) {
        this.key = key;
        this.authorityHost = authorityHost;
        this.exchangeResource = exchangeResource;
        this.smtpHost = smtpHost;
        this.otherAudiences = otherAudiences;
    }

    /** The value of {@code mailgate.cloud}. */
    public String key() {
        return key;
    }

    public String authorityHost() {
        return authorityHost;
    }

    /** The audience of this cloud's Exchange Online tokens. */
    public String exchangeResource() {
        return exchangeResource;
    }

    /** The scope to ask Entra ID for: Exchange Online's resource with {@code /.default} (client credentials). */
    public String scope() {
        return exchangeResource + "/.default";
    }

    public String smtpHost() {
        return smtpHost;
    }

    /** Whether {@code audience} (a token's {@code aud}) is this cloud's Exchange Online. */
    public boolean isExchange(String audience) {
        String a = audience.toLowerCase(Locale.ROOT).replaceAll("/+$", "");
        // Exchange Online's application id stands for its resource in every cloud
        return a.equals(exchangeResource) || otherAudiences.contains(a) || a.equals(EXCHANGE_APP_ID);
    }

    /** The cloud whose Exchange Online {@code audience} is, if any. */
    public static Optional<Cloud> ofAudience(String audience) {
        return Arrays.stream(values()).filter(c -> c.isExchange(audience)).findFirst();
    }

    public static Optional<Cloud> of(String key) {
        return Arrays.stream(values()).filter(c -> c.key.equalsIgnoreCase(key.strip())).findFirst();
    }

    /** The accepted values, for error messages and the README. */
    public static List<String> keys() {
        return Arrays.stream(values()).map(Cloud::key).toList();
    }
}
