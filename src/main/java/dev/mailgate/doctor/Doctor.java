package dev.mailgate.doctor;

import static dev.mailgate.text.Text.oneLine;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Supplier;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;

import dev.mailgate.auth.AccessToken;
import dev.mailgate.auth.TokenClaims;
import dev.mailgate.auth.TokenException;
import dev.mailgate.auth.TokenSource;
import dev.mailgate.auth.XOAuth2;
import dev.mailgate.config.Cloud;
import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.SecretFiles;
import dev.mailgate.config.Settings;
import dev.mailgate.outcome.Failure;
import dev.mailgate.policy.FailureClassifier;
import dev.mailgate.transport.ProxyTunnel;

/**
 * Walks the conversation every send has — resolve, connect, STARTTLS, certificate, EHLO, token, claims,
 * {@code AUTH XOAUTH2}, {@code MAIL FROM}, optionally a test message — against the configured tenant and mailbox,
 * one step at a time, and explains each failure with its likely cause and exact fix. SMTP replies are judged by
 * the same {@link FailureClassifier} the gateway uses, Entra ID's errors by the same explanations.
 */
public final class Doctor {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
            .withZone(ZoneOffset.UTC);

    /**
     * @param settings the effective settings (in sandbox mode: pointed at the sandbox's servers)
     * @param tokens   makes the token source; may throw {@link ConfigurationException} (an unreadable credential)
     * @param smtpTls  what the SMTP server's certificate is checked against
     * @param mailbox  the mailbox that authenticates (XOAUTH2 {@code user=})
     * @param sendTo   a recipient for a test message, or empty for no message
     * @param from     the sender to check: the mailbox itself, or an address it sends as (Send As)
     */
    public record Options(Settings settings, Supplier<TokenSource> tokens, SSLContext smtpTls, String mailbox,
            Optional<String> sendTo, String from) {

        public Options(Settings settings, Supplier<TokenSource> tokens, SSLContext smtpTls, String mailbox,
                Optional<String> sendTo) {
            this(settings, tokens, smtpTls, mailbox, sendTo, mailbox);
        }

        /** Whether the sender is another address than the mailbox that authenticates. */
        boolean sendAs() {
            return !from.equalsIgnoreCase(mailbox);
        }

        /** An advice with the placeholders filled in. */
        String fill(String advice) {
            return new Failure(Failure.Category.PERMANENT, "", advice).filled(mailbox, from,
                    settings.entra().clientId()).advice();
        }
    }

    /** Every step's result, in order. */
    public record Report(String server, String mailbox, String tenant, String clientId, List<Check> checks) {

        public boolean passed() {
            return checks.stream().noneMatch(c -> c.status() == Check.Status.FAIL);
        }

        public Optional<Check> firstFailure() {
            return checks.stream().filter(c -> c.status() == Check.Status.FAIL).findFirst();
        }

        /** sysexits: 0 when nothing failed, 69 (unavailable) when the server cannot be reached, 78 (config) else. */
        public int exitCode() {
            return firstFailure().map(c -> c.unreachable() ? 69 : 78).orElse(0);
        }
    }

    private final Options options;
    private final Settings.Smtp smtp;
    private final FailureClassifier classifier = new FailureClassifier();
    private final List<Check> checks = new ArrayList<>();

    public Doctor(Options options) {
        this.options = options;
        this.smtp = options.settings().smtp();
    }

    public Report run() {
        TokenSource source = configuration();
        try (SmtpDialogue smtpSession = new SmtpDialogue(smtp.host(), (int) smtp.readTimeout().toMillis())) {
            boolean connected = connect(smtpSession);
            AccessToken token = source == null ? skipToken() : token(source);
            List<TokenClaims.Problem> claimProblems = token == null ? List.of() : claims(token);
            boolean authenticated = connected && token != null ? authenticate(smtpSession, token, claimProblems)
                    : skip("auth", !connected ? "the SMTP server was not reached" : "no token");
            boolean sender = authenticated ? sender(smtpSession) : skip("sender", "not authenticated");
            if (options.sendTo().isEmpty()) {
                checks.add(Check.skip("send", "no test message (add --send-to <address> to send one)"));
            } else if (sender) {
                send(smtpSession, options.sendTo().get());
            } else {
                skip("send", "the sender was not accepted");
            }
        }
        Settings.Entra entra = options.settings().entra();
        return new Report(smtp.host() + ":" + smtp.port(), options.mailbox(), entra.tenantId(), entra.clientId(),
                List.copyOf(checks));
    }

    // configuration ---------------------------------------------------------------------------------------------

    private TokenSource configuration() {
        Settings settings = options.settings();
        Settings.Entra entra = settings.entra();
        List<String> warnings = new ArrayList<>(SecretFiles.warnings(settings));
        List<String> fixes = new ArrayList<>();
        boolean sandbox = settings.sandbox();
        Cloud cloud = entra.cloud();
        String exchangeHost = cloud.smtpHost();
        if (!smtp.host().equalsIgnoreCase(exchangeHost) && !sandbox) {
            warnings.add("mailgate.smtp.host is " + smtp.host() + ", not Exchange Online's " + exchangeHost
                    + (cloud == Cloud.GLOBAL ? "" : " (mailgate.cloud=" + cloud.key() + ")"));
            fixes.add("fine for a relay that does XOAUTH2; for Exchange Online set mailgate.smtp.host=" + exchangeHost);
        }
        if (smtp.port() != 587 && smtp.host().equalsIgnoreCase(exchangeHost)) {
            warnings.add("mailgate.smtp.port is " + smtp.port() + "; Exchange Online's submission port is 587");
            fixes.add("set mailgate.smtp.port=587 (STARTTLS); 25 is for receiving and 465 (implicit TLS) is not offered");
        }
        if (!entra.scope().toLowerCase(Locale.ROOT).startsWith(cloud.exchangeResource())) {
            warnings.add("mailgate.entra.scope is " + entra.scope() + ", not Exchange Online's"
                    + (cloud == Cloud.GLOBAL ? "" : " in the " + cloud.key() + " cloud"));
            fixes.add("set mailgate.entra.scope=" + cloud.scope());
        }
        String authority = entra.authorityHost().replaceAll("/+$", "");
        java.util.Optional<Cloud> otherCloud = java.util.Arrays.stream(Cloud.values())
                .filter(c -> c.authorityHost().equalsIgnoreCase(authority)).findFirst();
        if (otherCloud.isPresent() && !otherCloud.get().authorityHost().equals(cloud.authorityHost())) {
            // another cloud's login host with this cloud's Exchange: the token would be for no Exchange at all
            warnings.add("mailgate.entra.authority-host is " + authority + ", the " + otherCloud.get().key()
                    + " cloud's, but mailgate.cloud is " + cloud.key());
            fixes.add("remove mailgate.entra.authority-host and set mailgate.cloud to the tenant's cloud ("
                    + String.join(", ", Cloud.keys()) + ")");
        }
        if (!TokenClaims.isGuid(entra.clientId()) && !sandbox) {
            warnings.add("mailgate.entra.client-id '" + entra.clientId() + "' is not a GUID");
            fixes.add("use the Application (client) ID from App registrations > Overview, not the app's name");
        }
        if (!TokenClaims.isGuid(entra.tenantId()) && !entra.tenantId().contains(".") && !sandbox) {
            warnings.add("mailgate.entra.tenant-id '" + entra.tenantId() + "' is neither a GUID nor a domain");
            fixes.add("use the Directory (tenant) ID from Entra admin center > Overview");
        }
        TokenSource source;
        try {
            source = options.tokens().get();
        } catch (ConfigurationException e) {
            checks.add(Check.fail("configuration", "the client credential cannot be used", e.getMessage(),
                    "fix the setting named, then run doctor again", List.of()));
            return null;
        }
        String summary = "tenant " + entra.tenantId() + ", app " + entra.clientId() + ", " + credential(entra)
                + ", scope " + entra.scope() + ", sending as " + options.mailbox()
                + (options.sendAs() ? " (from " + options.from() + ", Send As)" : "")
                + entra.proxy().map(p -> ", Entra ID through " + p).orElse("")
                + smtp.proxy().map(p -> ", SMTP through " + p).orElse("");
        checks.add(warnings.isEmpty() ? Check.pass("configuration", summary, List.of())
                : Check.warn("configuration", summary, String.join("; ", warnings), String.join("; ", fixes),
                        List.of()));
        return source;
    }

    private static String credential(Settings.Entra entra) {
        if (entra.clientSecret().isPresent()) {
            return "client secret";
        }
        if (entra.clientSecretFile().isPresent()) {
            return "client secret from " + entra.clientSecretFile().get();
        }
        if (entra.pkcs12File().isPresent()) {
            return "certificate from " + entra.pkcs12File().get();
        }
        return "certificate from " + entra.certificateFile().map(Object::toString).orElse("?");
    }

    // connection ------------------------------------------------------------------------------------------------

    /** DNS, TCP, greeting + STARTTLS, TLS + certificate, EHLO after TLS; true when ready for AUTH. */
    private boolean connect(SmtpDialogue session) {
        if (smtp.proxy().isPresent()) {
            return connectThroughProxy(session, smtp.proxy().get()) && startTls(session) && tls(session)
                    && ehlo(session);
        }
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(smtp.host());
            checks.add(Check.pass("dns", smtp.host() + " resolves to " + addresses[0].getHostAddress()
                    + (addresses.length > 1 ? " (and " + (addresses.length - 1) + " more)" : ""), List.of()));
        } catch (UnknownHostException e) {
            checks.add(Check.unreachable("dns", smtp.host() + " does not resolve",
                    "the host name in mailgate.smtp.host is misspelt, or this machine's DNS cannot resolve it",
                    "set mailgate.smtp.host=" + exchangeHost() + " and check the resolver (getent hosts "
                            + smtp.host() + ")", List.of()));
            return skipAfter("dns");
        }
        long started = System.nanoTime();
        InetSocketAddress address = new InetSocketAddress(addresses[0], smtp.port());
        try {
            session.connect(address, (int) smtp.connectTimeout().toMillis());
            checks.add(Check.pass("tcp", "connected to " + addresses[0].getHostAddress() + ":" + smtp.port() + " in "
                    + millis(started) + " ms", List.of()));
        } catch (SocketTimeoutException e) {
            checks.add(Check.unreachable("tcp", "no answer from " + address.getAddress().getHostAddress() + ":"
                    + smtp.port() + " within " + smtp.connectTimeout().toSeconds() + " s",
                    "a firewall or the network provider drops outbound connections to port " + smtp.port(),
                    "allow outbound TCP " + smtp.port() + " to " + smtp.host() + " (test with: nc -vz " + smtp.host()
                            + " " + smtp.port() + "), or raise mailgate.smtp.connect-timeout", List.of()));
            return skipAfter("tcp");
        } catch (ConnectException | NoRouteToHostException e) {
            checks.add(Check.unreachable("tcp", "connection to " + address.getAddress().getHostAddress() + ":"
                    + smtp.port() + " refused (" + oneLine(e.getMessage()) + ")",
                    "nothing listens on that port, or a firewall rejects the connection",
                    "check mailgate.smtp.port (587 for Exchange Online submission with STARTTLS) and outbound "
                            + "firewall rules", List.of()));
            return skipAfter("tcp");
        } catch (IOException e) {
            checks.add(Check.unreachable("tcp", "cannot connect to " + smtp.host() + ":" + smtp.port() + " ("
                    + oneLine(e.getMessage()) + ")", "the network path to the server is broken",
                    "check outbound TCP " + smtp.port() + " to " + smtp.host(), List.of()));
            return skipAfter("tcp");
        }
        return startTls(session) && tls(session) && ehlo(session);
    }

    /**
     * DNS and TCP through {@code mailgate.smtp.proxy}: the proxy resolves the server's name, so this machine's DNS
     * is not asked (behind such proxies it often cannot answer); the tunnel is the TCP step.
     */
    private boolean connectThroughProxy(SmtpDialogue session, Settings.Proxy proxy) {
        checks.add(Check.pass("dns", smtp.host() + " is resolved by the proxy " + proxy.address()
                + " (mailgate.smtp.proxy)", List.of()));
        long started = System.nanoTime();
        try {
            session.connect(new ProxyTunnel(proxy, smtp.connectTimeout()).socket(),
                    InetSocketAddress.createUnresolved(smtp.host(), smtp.port()), (int) smtp.connectTimeout().toMillis());
            checks.add(Check.pass("tcp", "tunnel to " + smtp.host() + ":" + smtp.port() + " through " + proxy
                    + " in " + millis(started) + " ms", List.of()));
            return true;
        } catch (ProxyTunnel.Refused e) {
            Failure failure = FailureClassifier.proxyRefused(e);
            Check failed = failure.category() == Failure.Category.TRANSIENT
                    ? Check.unreachable("tcp", "no tunnel through " + proxy.address(), failure.reason(),
                            failure.advice(), List.of())
                    : Check.fail("tcp", "no tunnel through " + proxy.address(), failure.reason(), failure.advice(),
                            List.of());
            checks.add(failed);
            return skipAfter("tcp");
        } catch (IOException e) {
            checks.add(Check.unreachable("tcp", "cannot reach " + smtp.host() + ":" + smtp.port() + " through "
                    + proxy.address() + " (" + oneLine(e.getMessage()) + ")", "the proxy does not answer, or the "
                    + "network path to it is broken", "check mailgate.smtp.proxy and that this machine may connect "
                    + "to the proxy", List.of()));
            return skipAfter("tcp");
        }
    }

    private boolean startTls(SmtpDialogue session) {
        try {
            SmtpDialogue.Reply greeting = session.read();
            if (greeting.code() != 220) {
                return smtpRefusal("starttls", "the server refused the connection", greeting, session);
            }
            SmtpDialogue.Reply ehlo = session.command("EHLO " + localName());
            if (ehlo.code() != 250) {
                return smtpRefusal("starttls", "the server refused EHLO", ehlo, session);
            }
            if (!SmtpDialogue.offers(SmtpDialogue.extensions(ehlo), "STARTTLS")) {
                checks.add(Check.fail("starttls", "the server does not offer STARTTLS",
                        "this is not a submission endpoint with TLS (a port 25 relay, or a proxy in the way); "
                                + "Mailgate never sends a token over a cleartext connection",
                        "set mailgate.smtp.host=" + exchangeHost() + " and mailgate.smtp.port=587",
                        session.takeTranscript()));
                return skipAfter("starttls");
            }
            SmtpDialogue.Reply ready = session.command("STARTTLS");
            if (ready.code() != 220) {
                return smtpRefusal("starttls", "the server refused STARTTLS", ready, session);
            }
            checks.add(Check.pass("starttls", "STARTTLS offered and accepted: " + ready.line(),
                    session.takeTranscript()));
            return true;
        } catch (IOException e) {
            checks.add(Check.unreachable("starttls", "the conversation broke before TLS (" + oneLine(e.getMessage())
                    + ")", "the server or a proxy closed the connection",
                    "check that mailgate.smtp.host/port is an SMTP submission server (" + exchangeHost() + ":587)",
                    session.takeTranscript()));
            return skipAfter("starttls");
        }
    }

    private boolean tls(SmtpDialogue session) {
        try {
            SSLSocket socket = session.startTls(options.smtpTls());
            SSLSession tls = socket.getSession();
            X509Certificate certificate = (X509Certificate) tls.getPeerCertificates()[0];
            checks.add(Check.pass("tls", tls.getProtocol() + ", certificate " + certificate.getSubjectX500Principal()
                    .getName() + " issued by " + certificate.getIssuerX500Principal().getName() + ", valid until "
                    + TIME.format(certificate.getNotAfter().toInstant()) + ", matches " + smtp.host(),
                    session.takeTranscript()));
            return true;
        } catch (IOException e) {
            Failure failure = classifier.classify(e);
            boolean certificate = failure.category() == Failure.Category.CONFIGURATION;
            String fix = certificate ? failure.advice() : "check that nothing on the way intercepts TLS, and that "
                    + "the Java runtime offers TLS 1.2 (Exchange Online refuses 1.0 and 1.1)";
            checks.add(new Check("tls", Check.Status.FAIL, "TLS handshake failed: " + oneLine(e.getMessage()),
                    failure.reason(), fix, session.takeTranscript(), !certificate));
            return skipAfter("tls");
        }
    }

    private boolean ehlo(SmtpDialogue session) {
        try {
            SmtpDialogue.Reply ehlo = session.command("EHLO " + localName());
            if (ehlo.code() != 250) {
                return smtpRefusal("ehlo", "the server refused EHLO after STARTTLS", ehlo, session);
            }
            List<String> extensions = SmtpDialogue.extensions(ehlo);
            String mechanisms = SmtpDialogue.authMechanisms(extensions);
            if (mechanisms == null || !mechanisms.toUpperCase(Locale.ROOT).contains("XOAUTH2")) {
                checks.add(Check.fail("ehlo", mechanisms == null ? "the server offers no AUTH after STARTTLS"
                        : "the server offers AUTH " + mechanisms + " but not XOAUTH2",
                        "this server does not take OAuth2 tokens (it is not Exchange Online's submission endpoint)",
                        "Mailgate authenticates only with OAuth2: set mailgate.smtp.host=" + exchangeHost()
                                + " and mailgate.smtp.port=587", session.takeTranscript()));
                return skipAfter("ehlo");
            }
            checks.add(Check.pass("ehlo", "AUTH " + mechanisms + extensions.stream()
                    .filter(e -> e.toUpperCase(Locale.ROOT).startsWith("SIZE ")).findFirst()
                    .map(e -> ", " + e).orElse(""), session.takeTranscript()));
            return true;
        } catch (IOException e) {
            checks.add(Check.unreachable("ehlo", "the conversation broke after TLS (" + oneLine(e.getMessage()) + ")",
                    "the server closed the connection", "run doctor again; if it persists, check the network path",
                    session.takeTranscript()));
            return skipAfter("ehlo");
        }
    }

    // token -----------------------------------------------------------------------------------------------------

    private AccessToken token(TokenSource source) {
        Settings.Entra entra = options.settings().entra();
        long started = System.nanoTime();
        try {
            AccessToken token = source.fetch();
            checks.add(Check.pass("token", "Entra ID (" + entra.authorityHost() + ") issued a token in "
                    + millis(started) + " ms, valid until " + TIME.format(token.expiresAt()), List.of()));
            return token;
        } catch (TokenException e) {
            String fix = e.advice() != null ? e.advice() : "fix the app registration or credential as described";
            checks.add(new Check("token", Check.Status.FAIL, "no token from Entra ID (" + entra.authorityHost() + ")",
                    e.getMessage(), fix, List.of(), e.kind() == TokenException.Kind.UNREACHABLE));
            skip("claims", "no token");
            return null;
        }
    }

    private AccessToken skipToken() {
        skip("token", "the configuration is not usable");
        skip("claims", "no token");
        return null;
    }

    private List<TokenClaims.Problem> claims(AccessToken token) {
        Optional<TokenClaims> read = TokenClaims.of(token.value());
        if (read.isEmpty()) {
            checks.add(Check.warn("claims", "the token is not a JWT; its claims cannot be read",
                    "Exchange Online's tokens are JWTs; this one may be for another resource",
                    "check mailgate.entra.scope=" + options.settings().entra().cloud().scope(), List.of()));
            return List.of();
        }
        TokenClaims claims = read.get();
        Settings.Entra entra = options.settings().entra();
        List<TokenClaims.Problem> problems = claims.problems(entra.clientId(), entra.tenantId(), entra.cloud());
        String summary = "aud " + claims.audience() + ", roles " + (claims.roles().isEmpty() ? "(none)"
                : String.join(" ", claims.roles())) + (claims.scopes().isEmpty() ? ""
                        : ", scp " + String.join(" ", claims.scopes())) + ", tid " + claims.tenantId() + ", appid "
                + claims.appId() + "; " + claims.permission();
        if (problems.isEmpty()) {
            checks.add(Check.pass("claims", summary, List.of()));
        } else {
            checks.add(Check.fail("claims", summary,
                    String.join("; ", problems.stream().map(TokenClaims.Problem::finding).toList()),
                    String.join("; ", problems.stream().map(TokenClaims.Problem::fix).toList()), List.of()));
        }
        return problems;
    }

    // AUTH, MAIL FROM, test message -----------------------------------------------------------------------------

    private boolean authenticate(SmtpDialogue session, AccessToken token, List<TokenClaims.Problem> claimProblems) {
        String mailbox = options.mailbox();
        String sasl;
        try {
            sasl = XOAuth2.encoded(mailbox, token.value());
        } catch (IllegalArgumentException e) {
            checks.add(Check.fail("auth", "not sent", e.getMessage(), "give the sending mailbox as a plain address "
                    + "(--mailbox or mailgate.sender)", session.takeTranscript()));
            return false;
        }
        String shown = "(user=" + mailbox + ", auth=Bearer " + AccessToken.redact(token.value()) + "; "
                + sasl.length() + " base64 characters)";
        // the transcript shows the line with the token redacted, and the token never reaches it
        XOAuth2.Lines<IOException> lines = (line, carriesToken) -> {
            SmtpDialogue.Reply reply = carriesToken
                    ? session.command(line, line.replace(sasl, shown), sasl, token.value())
                    : session.command(line);
            return new XOAuth2.Reply(reply.code(), reply.line());
        };
        XOAuth2.Form form = XOAuth2.Form.of(options.settings().smtp().xoauth2Form());
        try {
            XOAuth2.Reply refusedLine = null;
            XOAuth2.Reply reply;
            if (form.startsTwoLine(false)) {
                reply = XOAuth2.twoLine(lines, sasl);
            } else {
                reply = XOAuth2.initialResponse(lines, sasl);
                if (form.fallsBackOn(reply.code())) {
                    // the line with the token is too long for this server: what Mailgate does next, the two-line form
                    refusedLine = reply;
                    reply = XOAuth2.twoLine(lines, sasl);
                }
            }
            if (reply.code() == 235 && refusedLine != null) {
                checks.add(Check.warn("auth", "authenticated as " + mailbox + " with the two-line form: "
                        + reply.line(), "the server refused the AUTH line that carries the token ("
                        + refusedLine.line() + ")", "nothing to do: Mailgate sends the token on a line of its own to "
                        + "this server (mailgate.smtp.xoauth2-form=auto); set mailgate.smtp.xoauth2-form=two-line to "
                        + "skip the refused first try", session.takeTranscript()));
                return true;
            }
            if (reply.code() == 235) {
                checks.add(Check.pass("auth", "authenticated as " + mailbox + ": " + reply.line(),
                        session.takeTranscript()));
                return true;
            }
            Failure failure = classifier.smtpReply(FailureClassifier.Stage.AUTH, reply.code(), reply.line());
            String cause = failure.reason() + " for " + mailbox;
            String fix = failure.advice().replace("<mailbox>", mailbox);
            if (!claimProblems.isEmpty()) {
                cause += "; the token's claims explain it: " + claimProblems.get(0).finding();
                fix = claimProblems.get(0).fix();
            } else if (failure.category() == Failure.Category.AUTH && !reply.line().contains("5.7.139")) {
                fix = exchangeAccessFix(mailbox);
            }
            checks.add(Check.fail("auth", reply.line(), cause, fix, session.takeTranscript()));
            return false;
        } catch (IOException e) {
            checks.add(Check.unreachable("auth", "the connection broke during AUTH (" + oneLine(e.getMessage()) + ")",
                    "the server closed the connection", "run doctor again", session.takeTranscript()));
            return false;
        }
    }

    /** Exchange Online's SMTP submission host in the configured cloud. */
    private String exchangeHost() {
        return options.settings().entra().cloud().smtpHost();
    }

    /** 535 5.7.3 with a token whose claims are right: Exchange does not connect the app to the mailbox. */
    private String exchangeAccessFix(String mailbox) {
        return "the token is right, so " + FailureClassifier.exchangeAccessAdvice(
                options.settings().entra().clientId(), mailbox);
    }

    private boolean sender(SmtpDialogue session) {
        try {
            SmtpDialogue.Reply reply = session.command("MAIL FROM:<" + options.from() + ">");
            if (reply.code() != 250) {
                Failure failure = classifier.smtpReply(FailureClassifier.Stage.MAIL_FROM, reply.code(), reply.line());
                checks.add(Check.fail("sender", reply.line(), failure.reason() + " (" + options.from() + ")",
                        options.fill(failure.advice()), session.takeTranscript()));
                return false;
            }
            if (options.sendTo().isEmpty()) {
                session.command("RSET");
                if (options.sendAs()) {
                    // Exchange checks Send As on the message's From, at the end of DATA: MAIL FROM proves nothing
                    checks.add(Check.warn("sender", options.from() + " accepted at MAIL FROM: " + reply.line(),
                            options.mailbox() + " sends as " + options.from() + ", which Exchange checks only when a "
                                    + "message is sent", "add --send-to <address> to send a test message from "
                                    + options.from() + " and check Send As end to end", session.takeTranscript()));
                    return true;
                }
            }
            checks.add(Check.pass("sender", options.from() + " accepted as sender: " + reply.line(),
                    session.takeTranscript()));
            return true;
        } catch (IOException e) {
            checks.add(Check.unreachable("sender", "the connection broke at MAIL FROM (" + oneLine(e.getMessage())
                    + ")", "the server closed the connection", "run doctor again", session.takeTranscript()));
            return false;
        }
    }

    private void send(SmtpDialogue session, String recipient) {
        try {
            FailureClassifier.Stage stage = FailureClassifier.Stage.RCPT_TO;
            SmtpDialogue.Reply reply = session.command("RCPT TO:<" + recipient + ">");
            if (reply.code() == 250 || reply.code() == 251) {
                stage = FailureClassifier.Stage.DATA;
                reply = session.command("DATA");
                if (reply.code() == 354) {
                    reply = session.data(testMessage(recipient));
                }
            }
            if (reply.code() != 250) {
                Failure failure = classifier.smtpReply(stage, reply.code(), reply.line());
                checks.add(Check.fail("send", reply.line(), failure.reason() + (options.sendAs() ? " ("
                        + options.mailbox() + " sending as " + options.from() + ")" : ""),
                        options.fill(failure.advice()), session.takeTranscript()));
                return;
            }
            checks.add(Check.pass("send", "test message " + (options.sendAs() ? "from " + options.from() + " " : "")
                    + "to " + recipient + " accepted: " + reply.line(), session.takeTranscript()));
        } catch (IOException e) {
            checks.add(Check.unreachable("send", "the connection broke while sending (" + oneLine(e.getMessage())
                    + ")", "the server closed the connection", "run doctor again", session.takeTranscript()));
        }
    }

    private String testMessage(String recipient) {
        String mailbox = options.mailbox();
        return String.join("\r\n",
                "From: <" + options.from() + ">",
                "To: <" + recipient + ">",
                "Subject: Mailgate doctor test",
                "Date: " + DateTimeFormatter.RFC_1123_DATE_TIME.format(Instant.now().atZone(ZoneOffset.UTC)),
                "Message-ID: <" + UUID.randomUUID() + "@mailgate.doctor>",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=UTF-8",
                "",
                "This test message was sent by mailgate doctor: " + mailbox + " can send"
                        + (options.sendAs() ? " as " + options.from() : "") + " through "
                        + smtp.host() + ":" + smtp.port() + " with OAuth2 (XOAUTH2).");
    }

    // helpers ---------------------------------------------------------------------------------------------------

    private boolean smtpRefusal(String step, String what, SmtpDialogue.Reply reply, SmtpDialogue session) {
        Failure failure = classifier.smtpReply(reply.code(), reply.line());
        checks.add(Check.fail(step, what + ": " + reply.line(), failure.reason(), failure.advice(),
                session.takeTranscript()));
        return skipAfter(step);
    }

    private static final List<String> CONNECTION_STEPS = List.of("dns", "tcp", "starttls", "tls", "ehlo");

    /** Marks the connection steps after {@code failed} as skipped; always false. */
    private boolean skipAfter(String failed) {
        for (String step : CONNECTION_STEPS.subList(CONNECTION_STEPS.indexOf(failed) + 1, CONNECTION_STEPS.size())) {
            skip(step, failed + " failed");
        }
        return false;
    }

    private boolean skip(String step, String why) {
        checks.add(Check.skip(step, why));
        return false;
    }

    private static long millis(long startedNanos) {
        return Duration.ofNanos(System.nanoTime() - startedNanos).toMillis();
    }

    /** The EHLO name: any domain does for submission, and looking up this machine's own name can hang on DNS. */
    private static String localName() {
        return "mailgate-doctor.localdomain";
    }
}
