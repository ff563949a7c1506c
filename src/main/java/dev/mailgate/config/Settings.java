package dev.mailgate.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;

import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;

import org.apache.camel.util.TimeUtils;


/**
 * Every setting Mailgate reads, typed and checked in one place. Keys follow Camel Main conventions
 * ({@code application.properties}, overridable by environment variables such as
 * {@code MAILGATE_SMTP_HOST}); the README lists each key with its default.
 * <p>
 * Reading never throws on the first bad value: all problems are collected and reported together,
 * each naming the key and what to put there.
 */
public record Settings(
        SandboxMode sandboxMode,
        Optional<String> sender,
        Path dataDir,
        Path templatesDir,
        Path routesDir,
        Path pluginsDir,
        Entra entra,
        Token token,
        Smtp smtp,
        Optional<Trust> trust,
        Outbox outbox,
        Delivery delivery,
        Limits limits,
        Broker broker,
        Jms jms,
        Journal journal,
        Http http,
        Map<String, Senders> senders) {

    /**
     * The channels that take requests, each with its own {@link Senders} ({@code cli}: {@code mailgate send};
     * {@code route}: user routes through {@code direct:mailgate-submit}).
     */
    public static final List<String> CHANNELS = List.of("outbox", "jms", "http", "route", "cli");

    /**
     * Whom a channel may send as ({@code *}: anyone), the one sender it is forced to, and the recipient domains it
     * may send to (empty: any).
     */
    public record Senders(List<String> allowed, Optional<String> forced, List<String> recipientDomains,
            List<SendAs> authenticateAs) {
    }

    /**
     * A request whose {@code from} matches {@code senders} (an address, a domain, or {@code *}) authenticates as
     * {@code mailbox}, which must have Send As on it ({@code mailgate.authenticate-as}).
     */
    public record SendAs(String senders, String mailbox) {
    }

    public enum SandboxMode { AUTO, ON, OFF }

    public record Entra(
            String authorityHost, String tenantId, String clientId, String scope,
            Optional<String> clientSecret, Optional<Path> clientSecretFile,
            Optional<Path> certificateFile, Optional<Path> privateKeyFile, Optional<String> privateKeyPassword,
            Optional<Path> pkcs12File, Optional<String> pkcs12Password,
            Duration connectTimeout, Duration readTimeout, Cloud cloud, Optional<Proxy> proxy) {

        /** The same settings for a local token endpoint (the sandbox's): reached directly, never through the proxy. */
        public Entra withEndpoint(String authorityHost, String tenantId, String clientId, String clientSecret) {
            return new Entra(authorityHost, tenantId, clientId, scope, Optional.of(clientSecret), Optional.empty(),
                    Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty(),
                    connectTimeout, readTimeout, cloud, Optional.empty());
        }
    }

    public record Token(Duration refreshMargin, Duration refreshAhead, Duration failureBackoff) {
    }

    /**
     * The SMTP server and how Mailgate talks to it. Authenticated connections are kept per mailbox and reused
     * ({@code pool}) until idle for {@code idleTimeout}; one idle for more than {@code validateAfter} is checked with
     * {@code NOOP} before it carries a message.
     */
    public record Smtp(String host, int port, Duration connectTimeout, Duration readTimeout, Duration writeTimeout,
            boolean debug, boolean pool, Duration idleTimeout, Duration validateAfter, String xoauth2Form,
            Optional<Proxy> proxy) {

        /** How the token is sent: {@code auto}, {@code initial-response} or {@code two-line}. */
        public static final List<String> XOAUTH2_FORMS = List.of("auto", "initial-response", "two-line");

        public Smtp(String host, int port, Duration connectTimeout, Duration readTimeout, Duration writeTimeout,
                boolean debug) {
            this(host, port, connectTimeout, readTimeout, writeTimeout, debug, true, Duration.ofSeconds(30),
                    Duration.ofSeconds(2), "auto", Optional.empty());
        }

        /** The same settings for a local server (the sandbox's): reached directly, never through the proxy. */
        public Smtp withEndpoint(String host, int port) {
            return new Smtp(host, port, connectTimeout, readTimeout, writeTimeout, debug, pool, idleTimeout,
                    validateAfter, xoauth2Form, Optional.empty());
        }
    }

    /**
     * An outbound proxy ({@code mailgate.entra.proxy}, {@code mailgate.smtp.proxy}): an HTTP proxy that tunnels with
     * {@code CONNECT}, or a SOCKS5 proxy, with an optional user and password (Basic for HTTP, RFC 1929 for SOCKS5).
     * Its {@code toString} never shows the password.
     */
    public record Proxy(String scheme, String host, int port, Optional<String> user, Optional<String> password) {

        public boolean socks() {
            return scheme.equals("socks5");
        }

        /** {@code http://proxy.corp:3128}: what logs and reports may show. */
        public String address() {
            return scheme + "://" + host + ":" + port;
        }

        @Override
        public String toString() {
            return address() + user.map(u -> " as " + u).orElse("");
        }
    }

    /**
     * A PKCS#12 file and its password: the trust store that replaces the JVM default for SMTP and Entra connections
     * (internal relays, tests), or the HTTP listener's key and certificate.
     */
    public record Trust(Path file, String password) {
    }

    /**
     * The outbox folders: a file is taken once unchanged for {@code settleTime}, folders are looked at every
     * {@code pollInterval}, reading one file may take {@code readTimeout}, and a file still waiting after
     * {@code stalledAfter} turns the {@code outbox} health check (readiness) down.
     */
    public record Outbox(Path dir, Path attachmentsDir, Duration settleTime, Duration pollInterval,
            Duration readTimeout, Duration stalledAfter) {

        public Outbox(Path dir, Path attachmentsDir, Duration settleTime, Duration pollInterval) {
            this(dir, attachmentsDir, settleTime, pollInterval, Duration.ofSeconds(30), Duration.ofMinutes(5));
        }
    }

    /**
     * When a transient failure is tried again: {@code initialDelay} growing by {@code backoffMultiplier} up to
     * {@code maxDelay}, until {@code giveUpAfter} has passed since the request arrived or {@code maxAttempts} were
     * made. A quota failure is tried again after {@code quotaDelay}, without giving up. A mailbox held after an
     * authentication failure is probed every {@code authProbeInterval}. A stopping gateway lets sends in progress
     * finish for {@code shutdownTimeout}, then cuts them short (they stay pending).
     */
    public record Delivery(int maxAttempts, Duration initialDelay, double backoffMultiplier, Duration maxDelay,
            Duration giveUpAfter, Duration quotaDelay, Duration authProbeInterval, Duration shutdownTimeout) {
    }

    /** Per message, and per sending mailbox (Exchange Online's limits by default). */
    public record Limits(int maxRecipients, long maxMessageBytes, int messagesPerMinute, int connectionsPerMailbox,
            int recipientsPerDay) {
    }

    /**
     * The embedded Artemis broker. {@code port} is its TCP acceptor for other processes on this machine (0: in-VM
     * only). Clients authenticate as {@code user} with {@code password} and may only put requests on the queue;
     * {@code operatorPassword}, when set, lets {@value #OPERATOR} read and take dead letters and look at the queue. The
     * gateway itself connects in-VM as an internal user of its own.
     */
    public record Broker(boolean embedded, Path dir, String host, int port, String user, Optional<String> password,
            Optional<String> operatorPassword) {

        /** The opt-in operator user of the embedded broker ({@code mailgate.broker.operator-password}). */
        public static final String OPERATOR = "mailgate-operator";
        /** The gateway's own user: in-VM only, with a password made at each start and kept in memory. */
        public static final String INTERNAL = "mailgate-internal";
    }

    /**
     * The JMS channel: where requests queue, where dead letters go, and how the gateway connects. {@code signingKey}
     * signs the properties Mailgate puts on its own messages (generated into {@code data/} when not configured).
     */
    public record Jms(Optional<String> url, Optional<String> user, Optional<String> password, String queue,
            String deadLetterQueue, int maxDeliveries, int consumers, Path attachmentsDir,
            Optional<String> signingKey) {
    }

    /** The delivery journal's database (embedded H2 unless a JDBC URL is given). */
    public record Journal(String url, Optional<String> user, Optional<String> password, Duration idempotencyWindow) {
    }

    /**
     * The HTTP API's listener. A connection must send a complete request head within {@code headerTimeout} of
     * opening (and a kept-alive one its next head within {@code idleTimeout}); at most {@code maxConnections} are
     * open, {@code maxConnectionsPerAddress} from one address. A multipart form has at most {@code maxParts} parts.
     */
    public record Http(boolean enabled, String host, int port, long maxBodyBytes, List<String> apiKeys,
            Optional<Path> apiKeysFile, int requestsPerMinute, Optional<Trust> tlsKeystore, Duration requestTimeout,
            Duration headerTimeout, Duration idleTimeout, int maxConnections, int maxConnectionsPerAddress,
            int maxParts) {

        public Http(boolean enabled, String host, int port, long maxBodyBytes, List<String> apiKeys,
                Optional<Path> apiKeysFile) {
            this(enabled, host, port, maxBodyBytes, apiKeys, apiKeysFile, 600, Optional.empty(), Duration.ofSeconds(60),
                    Duration.ofSeconds(10), Duration.ofSeconds(30), 1000, 100, 100);
        }
    }

    /**
     * Reads the settings through {@code lookup} (Camel's property resolution, so environment variables
     * override files).
     *
     * @throws ConfigurationException listing every invalid key
     */
    public static Settings read(Function<String, Optional<String>> lookup) {
        Reader r = new Reader(lookup);
        Path outboxDir = r.path("mailgate.outbox.dir", "outbox");
        Path dataDir = r.path("mailgate.data.dir", "data");
        SandboxMode sandboxMode = r.sandboxMode();
        Optional<String> sender = r.optional("mailgate.sender");
        String tenantId = r.string("mailgate.entra.tenant-id", "");
        Cloud cloud = r.cloud();
        Settings settings = new Settings(
                sandboxMode,
                sender,
                dataDir,
                r.path("mailgate.templates.dir", "templates"),
                r.path("mailgate.routes.dir", "routes"),
                r.path("mailgate.plugins.dir", "plugins"),
                new Entra(
                        r.string("mailgate.entra.authority-host", cloud.authorityHost()),
                        r.string("mailgate.entra.tenant-id", ""),
                        r.string("mailgate.entra.client-id", ""),
                        r.string("mailgate.entra.scope", cloud.scope()),
                        r.optional("mailgate.entra.client-secret"),
                        r.optionalPath("mailgate.entra.client-secret-file"),
                        r.optionalPath("mailgate.entra.certificate-file"),
                        r.optionalPath("mailgate.entra.private-key-file"),
                        r.optional("mailgate.entra.private-key-password"),
                        r.optionalPath("mailgate.entra.pkcs12-file"),
                        r.optional("mailgate.entra.pkcs12-password"),
                        r.timeout("mailgate.entra.connect-timeout", "10s"),
                        r.timeout("mailgate.entra.read-timeout", "15s"),
                        cloud,
                        r.proxy("mailgate.entra.proxy", false)),
                new Token(
                        r.duration("mailgate.token.refresh-margin", "10m"),
                        r.duration("mailgate.token.refresh-ahead", "5m"),
                        r.duration("mailgate.token.failure-backoff", "5s")),
                new Smtp(
                        r.string("mailgate.smtp.host", cloud.smtpHost()),
                        r.port("mailgate.smtp.port", 587),
                        r.timeout("mailgate.smtp.connect-timeout", "15s"),
                        r.timeout("mailgate.smtp.read-timeout", "60s"),
                        r.timeout("mailgate.smtp.write-timeout", "60s"),
                        r.bool("mailgate.smtp.debug", false),
                        r.bool("mailgate.smtp.pool.enabled", true),
                        r.timeout("mailgate.smtp.pool.idle-timeout", "30s"),
                        r.duration("mailgate.smtp.pool.validate-after", "2s"),
                        r.oneOf("mailgate.smtp.xoauth2-form", "auto", Smtp.XOAUTH2_FORMS),
                        r.proxy("mailgate.smtp.proxy", true)),
                r.optionalPath("mailgate.tls.truststore")
                        .map(p -> new Trust(p, r.string("mailgate.tls.truststore-password", ""))),
                new Outbox(
                        outboxDir,
                        r.optionalPath("mailgate.outbox.attachments-dir").orElse(outboxDir.resolve("attachments")),
                        r.duration("mailgate.outbox.settle-time", "2s"),
                        r.duration("mailgate.outbox.poll-interval", "500ms"),
                        r.timeout("mailgate.outbox.read-timeout", "30s"),
                        r.interval("mailgate.outbox.stalled-after", "5m")),
                new Delivery(
                        r.positiveInt("mailgate.delivery.max-attempts", 100),
                        r.duration("mailgate.delivery.initial-delay", "30s"),
                        r.multiplier("mailgate.delivery.backoff-multiplier", 2.0),
                        r.duration("mailgate.delivery.max-delay", "30m"),
                        r.duration("mailgate.delivery.give-up-after", "24h"),
                        r.duration("mailgate.delivery.quota-delay", "1h"),
                        r.interval("mailgate.delivery.auth-probe-interval", "1m"),
                        r.duration("mailgate.delivery.shutdown-timeout", "30s")),
                new Limits(
                        r.positiveInt("mailgate.limits.max-recipients", 500),
                        r.size("mailgate.limits.max-message-size", "35MB"),
                        r.positiveInt("mailgate.limits.messages-per-minute", 30),
                        r.positiveInt("mailgate.limits.connections-per-mailbox", 3),
                        r.positiveInt("mailgate.limits.recipients-per-day", 10_000)),
                new Broker(
                        r.optional("mailgate.jms.url").isEmpty(),
                        r.optionalPath("mailgate.broker.dir").orElse(dataDir.resolve("broker")),
                        r.string("mailgate.broker.host", "127.0.0.1"),
                        r.portOrZero("mailgate.broker.port", 61616),
                        r.string("mailgate.broker.user", "mailgate"),
                        r.optional("mailgate.broker.password"),
                        r.optional("mailgate.broker.operator-password")),
                new Jms(
                        r.optional("mailgate.jms.url"),
                        r.optional("mailgate.jms.user"),
                        r.optional("mailgate.jms.password"),
                        r.string("mailgate.jms.queue", "mailgate.outbox"),
                        r.string("mailgate.jms.dead-letter-queue", "mailgate.dlq"),
                        r.positiveInt("mailgate.jms.max-deliveries", 5),
                        r.positiveInt("mailgate.jms.consumers", 4),
                        r.optionalPath("mailgate.jms.attachments-dir").orElse(dataDir.resolve("uploads")),
                        r.optional("mailgate.jms.signing-key")),
                new Journal(
                        // WRITE_DELAY=0: a commit reaches the file at once, so a crash cannot forget an
                        // idempotency key whose request is already durable on the queue (H2 then leaves the
                        // compacting of its file to Mailgate: outcome.H2Housekeeping)
                        r.string("mailgate.journal.url", "jdbc:h2:file:" + dataDir.resolve("journal").resolve("mailgate")
                                .toAbsolutePath() + ";WRITE_DELAY=0"),
                        r.optional("mailgate.journal.user"),
                        r.optional("mailgate.journal.password"),
                        r.duration("mailgate.journal.idempotency-window", "24h")),
                new Http(
                        r.bool("mailgate.http.enabled", true),
                        r.string("mailgate.http.host", "127.0.0.1"),
                        r.portOrZero("mailgate.http.port", 8025),
                        r.size("mailgate.http.max-body-size", "50MB"),
                        r.list("mailgate.http.api-keys"),
                        r.optionalPath("mailgate.http.api-keys-file"),
                        r.positiveInt("mailgate.http.requests-per-minute", 600),
                        r.optionalPath("mailgate.http.tls.keystore")
                                .map(p -> new Trust(p, r.string("mailgate.http.tls.keystore-password", ""))),
                        r.timeout("mailgate.http.request-timeout", "60s"),
                        r.timeout("mailgate.http.header-timeout", "10s"),
                        r.timeout("mailgate.http.idle-timeout", "30s"),
                        r.positiveInt("mailgate.http.max-connections", 1000),
                        r.positiveInt("mailgate.http.max-connections-per-address", 100),
                        r.positiveInt("mailgate.http.max-parts", 100)),
                senders(r, sender, sandboxMode, tenantId));
        r.crossChecks(settings);
        r.throwIfProblems();
        return settings;
    }

    /**
     * Each channel's senders: {@code mailgate.<channel>.allowed-senders} or else {@code mailgate.allowed-senders};
     * by default the domain of {@code mailgate.sender} when sending for real, and anyone in the sandbox (nothing
     * leaves the machine there).
     */
    /**
     * {@code mailgate[.<channel>].authenticate-as}: one mailbox (every sender of the channel authenticates as it), or
     * rules {@code <sender>=<mailbox>}, the sender an address, a domain or {@code *}; the first that matches wins, and
     * a sender no rule matches authenticates as itself.
     */
    private static List<SendAs> sendAs(Reader r, String key) {
        List<SendAs> rules = new java.util.ArrayList<>();
        for (String rule : r.list(key)) {
            int equals = rule.lastIndexOf('=');
            String senders = equals < 0 ? "*" : rule.substring(0, equals).strip();
            String mailbox = equals < 0 ? rule : rule.substring(equals + 1).strip();
            if (senders.isEmpty()) {
                r.problems.add(key + ": '" + rule + "' names no sender before '='; write <sender>=<mailbox>, e.g. "
                        + "noreply@contoso.com=mailer@contoso.com, or only the mailbox");
                continue;
            }
            int before = r.problems.size();
            r.mailbox(key, mailbox);
            if (r.problems.size() == before) {
                rules.add(new SendAs(senders, mailbox));
            }
        }
        return List.copyOf(rules);
    }

    private static Map<String, Senders> senders(Reader r, Optional<String> sender, SandboxMode mode, String tenantId) {
        boolean sandbox = mode == SandboxMode.ON || mode == SandboxMode.AUTO && tenantId.isBlank();
        List<String> byDefault = sandbox ? List.of("*") : sender.map(Settings::domainOf).map(List::of)
                .orElse(List.of("*"));
        List<String> allowed = r.list("mailgate.allowed-senders");
        List<String> domains = r.list("mailgate.allowed-recipient-domains");
        List<SendAs> sendAs = sendAs(r, "mailgate.authenticate-as");
        Map<String, Senders> senders = new java.util.LinkedHashMap<>();
        for (String channel : CHANNELS) {
            List<String> own = r.list("mailgate." + channel + ".allowed-senders");
            List<String> ownDomains = r.list("mailgate." + channel + ".allowed-recipient-domains");
            Optional<String> forced = r.optional("mailgate." + channel + ".forced-sender");
            forced.ifPresent(f -> r.mailbox("mailgate." + channel + ".forced-sender", f));
            String sendAsKey = "mailgate." + channel + ".authenticate-as";
            senders.put(channel, new Senders(!own.isEmpty() ? own : !allowed.isEmpty() ? allowed : byDefault, forced,
                    !ownDomains.isEmpty() ? ownDomains : domains,
                    r.optional(sendAsKey).isPresent() ? sendAs(r, sendAsKey) : sendAs));
        }
        return Map.copyOf(senders);
    }

    private static String domainOf(String address) {
        try {
            String bare = new InternetAddress(address, false).getAddress();
            return bare.substring(bare.lastIndexOf('@') + 1).toLowerCase(Locale.ROOT);
        } catch (AddressException e) {
            // reported by crossChecks
            return "*";
        }
    }

    /** True when no tenant is configured (or the sandbox is forced on): nothing may leave this machine. */
    public boolean sandbox() {
        return switch (sandboxMode) {
            case ON -> true;
            case OFF -> false;
            case AUTO -> entra.tenantId().isBlank();
        };
    }

    /** The same settings with SMTP and Entra pointed at the embedded sandbox servers. */
    public Settings withSandbox(String smtpHost, int smtpPort, String authorityHost, String tenantId, String clientId,
            String clientSecret, String sandboxSender) {
        return new Settings(SandboxMode.ON, Optional.of(sender.orElse(sandboxSender)), dataDir, templatesDir,
                routesDir, pluginsDir, entra.withEndpoint(authorityHost, tenantId, clientId, clientSecret), token,
                smtp.withEndpoint(smtpHost, smtpPort), Optional.empty(), outbox, delivery, limits, broker, jms,
                journal, http, senders);
    }

    public Path sandboxDir() {
        return dataDir.resolve("sandbox");
    }

    /** Reads and converts values, remembering every problem instead of stopping at the first. */
    private static final class Reader {
        /** 500ms, 30s, 10m, 1h, 1d, compounds such as 1m30s, or plain milliseconds. */
        private static final Pattern DURATION = Pattern.compile("(\\d+(ms|s|m|h|d))+|\\d+");

        private final Function<String, Optional<String>> lookup;
        private final List<String> problems = new ArrayList<>();

        Reader(Function<String, Optional<String>> lookup) {
            this.lookup = lookup;
        }

        Optional<String> optional(String key) {
            return lookup.apply(key).map(String::trim).filter(v -> !v.isEmpty());
        }

        String string(String key, String defaultValue) {
            return optional(key).orElse(defaultValue);
        }

        Path path(String key, String defaultValue) {
            return Path.of(string(key, defaultValue));
        }

        Optional<Path> optionalPath(String key) {
            return optional(key).map(Path::of);
        }

        Duration duration(String key, String defaultValue) {
            String value = string(key, defaultValue);
            try {
                // Camel's parser reads what it does not understand ("abc", "10M", "-5s") as zero: check the form first
                if (!value.toUpperCase(Locale.ROOT).startsWith("P") && !DURATION.matcher(value).matches()) {
                    throw new IllegalArgumentException("not a duration");
                }
                Duration d = value.toUpperCase(Locale.ROOT).startsWith("P") ? Duration.parse(value)
                        : TimeUtils.toDuration(value);
                if (d.isNegative()) {
                    throw new IllegalArgumentException("negative");
                }
                return d;
            } catch (RuntimeException e) {
                problems.add(key + "='" + value + "' is not a duration; write it like 500ms, 30s, 10m or 1h");
                return TimeUtils.toDuration(defaultValue);
            }
        }

        /** A timeout: zero would mean "wait forever" to the libraries that get it. */
        Duration timeout(String key, String defaultValue) {
            Duration d = duration(key, defaultValue);
            if (d.isZero()) {
                problems.add(key + "=" + string(key, defaultValue) + " would mean waiting forever; give a timeout such "
                        + "as " + defaultValue);
                return TimeUtils.toDuration(defaultValue);
            }
            return d;
        }

        Duration interval(String key, String defaultValue) {
            Duration d = duration(key, defaultValue);
            if (d.isZero()) {
                problems.add(key + "=" + string(key, defaultValue) + " must be longer than 0, e.g. " + defaultValue);
                return TimeUtils.toDuration(defaultValue);
            }
            return d;
        }

        int port(String key, int defaultValue) {
            int port = integer(key, defaultValue);
            if (port < 1 || port > 65535) {
                problems.add(key + "=" + port + " is not a TCP port; use a number from 1 to 65535");
                return defaultValue;
            }
            return port;
        }

        /** A port, or 0 for "none". */
        int portOrZero(String key, int defaultValue) {
            int port = integer(key, defaultValue);
            if (port < 0 || port > 65535) {
                problems.add(key + "=" + port + " is not a TCP port; use a number from 1 to 65535, or 0 for none");
                return defaultValue;
            }
            return port;
        }

        /** Comma-separated values, blanks dropped. */
        /**
         * {@code <key>}: {@code http://host:port} (or {@code socks5://host:port} where {@code socks} is allowed), with
         * {@code <key>-user} and {@code <key>-password}. A user or password inside the URL is refused: it would be
         * shown wherever the URL is.
         */
        Optional<Proxy> proxy(String key, boolean socks) {
            Optional<String> value = optional(key);
            if (value.isEmpty()) {
                return Optional.empty();
            }
            String example = socks ? "http://proxy.corp:3128 or socks5://proxy.corp:1080" : "http://proxy.corp:3128";
            String userInfo = key + " holds a user or password: put the user in " + key + "-user and the password in "
                    + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_') + "_PASSWORD, never in the URL";
            if (value.get().contains("@")) {
                // before parsing: a password with '@' or '#' in it does not parse as user info, and must never be
                // echoed in the error that follows
                problems.add(userInfo);
                return Optional.empty();
            }
            java.net.URI uri;
            try {
                uri = new java.net.URI(value.get());
            } catch (java.net.URISyntaxException e) {
                problems.add(key + " is not a proxy URL; write it like " + example);
                return Optional.empty();
            }
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if (uri.getRawUserInfo() != null) {
                problems.add(userInfo);
                return Optional.empty();
            }
            if (!(scheme.equals("http") || socks && scheme.equals("socks5")) || uri.getHost() == null
                    || uri.getPort() < 1) {
                problems.add(key + "='" + value.get() + "' must be " + example + " (scheme, host and port)");
                return Optional.empty();
            }
            return Optional.of(new Proxy(scheme, uri.getHost(), uri.getPort(), optional(key + "-user"),
                    optional(key + "-password")));
        }

        /** {@code mailgate.cloud}: global (the default, GCC too), usgov-gcchigh, usgov-dod or china. */
        Cloud cloud() {
            String value = string("mailgate.cloud", Cloud.GLOBAL.key());
            return Cloud.of(value).orElseGet(() -> {
                problems.add("mailgate.cloud='" + value + "' must be one of " + String.join(", ", Cloud.keys())
                        + " (global includes GCC)");
                return Cloud.GLOBAL;
            });
        }

        List<String> list(String key) {
            return optional(key).map(v -> java.util.Arrays.stream(v.split(",")).map(String::trim)
                    .filter(x -> !x.isEmpty()).toList()).orElse(List.of());
        }

        int positiveInt(String key, int defaultValue) {
            int value = integer(key, defaultValue);
            if (value < 1) {
                problems.add(key + "=" + value + " must be at least 1");
                return defaultValue;
            }
            return value;
        }

        private int integer(String key, int defaultValue) {
            String value = string(key, Integer.toString(defaultValue));
            try {
                return Integer.parseInt(value);
            } catch (NumberFormatException e) {
                problems.add(key + "='" + value + "' is not a whole number");
                return defaultValue;
            }
        }

        double multiplier(String key, double defaultValue) {
            String value = string(key, Double.toString(defaultValue));
            try {
                double d = Double.parseDouble(value);
                if (d < 1.0) {
                    throw new NumberFormatException();
                }
                return d;
            } catch (NumberFormatException e) {
                problems.add(key + "='" + value + "' must be a number of at least 1 (e.g. 2 doubles each delay)");
                return defaultValue;
            }
        }

        boolean bool(String key, boolean defaultValue) {
            String value = string(key, Boolean.toString(defaultValue)).toLowerCase(Locale.ROOT);
            if (!value.equals("true") && !value.equals("false")) {
                problems.add(key + "='" + value + "' must be true or false");
                return defaultValue;
            }
            return Boolean.parseBoolean(value);
        }

        long size(String key, String defaultValue) {
            String value = string(key, defaultValue);
            try {
                return parseSize(value);
            } catch (NumberFormatException e) {
                problems.add(key + "='" + value + "' is not a size; write it like 35MB, 512KB or 1048576");
                return parseSize(defaultValue);
            }
        }

        private static long parseSize(String text) {
            String value = text.toUpperCase(Locale.ROOT).replace(" ", "");
            long factor = 1;
            if (value.endsWith("KB")) {
                factor = 1024;
                value = value.substring(0, value.length() - 2);
            } else if (value.endsWith("MB")) {
                factor = 1024 * 1024;
                value = value.substring(0, value.length() - 2);
            } else if (value.endsWith("B")) {
                value = value.substring(0, value.length() - 1);
            }
            long n = Long.parseLong(value) * factor;
            if (n < 1) {
                throw new NumberFormatException(text);
            }
            return n;
        }

        SandboxMode sandboxMode() {
            String value = string("mailgate.sandbox", "auto").toLowerCase(Locale.ROOT);
            return switch (value) {
                case "auto" -> SandboxMode.AUTO;
                case "true", "on" -> SandboxMode.ON;
                case "false", "off" -> SandboxMode.OFF;
                default -> {
                    problems.add("mailgate.sandbox='" + value + "' must be auto (sandbox when no tenant is set), "
                            + "true or false");
                    yield SandboxMode.AUTO;
                }
            };
        }

        void mailbox(String key, String value) {
            try {
                InternetAddress address = new InternetAddress(value, true);
                if (address.isGroup() || !address.getAddress().contains("@")) {
                    throw new AddressException(value);
                }
            } catch (AddressException ex) {
                problems.add(key + "='" + value + "' is not a mailbox address; write it like mailgate@contoso.com");
            }
        }

        String oneOf(String key, String fallback, List<String> allowed) {
            String value = string(key, fallback).strip().toLowerCase(Locale.ROOT);
            if (!allowed.contains(value)) {
                problems.add(key + "='" + value + "' must be one of " + String.join(", ", allowed));
                return fallback;
            }
            return value;
        }

        void crossChecks(Settings s) {
            Outbox outbox = s.outbox;
            Duration taken = outbox.settleTime().plus(outbox.pollInterval().multipliedBy(3));
            if (outbox.stalledAfter().compareTo(taken) < 0) {
                // a file is not late before it has settled and been looked for a few times
                problems.add("mailgate.outbox.stalled-after=" + string("mailgate.outbox.stalled-after", "5m")
                        + " is shorter than a file takes to be picked up (mailgate.outbox.settle-time + 3 x "
                        + "mailgate.outbox.poll-interval = " + taken.toMillis() + " ms); make it at least that, e.g. 5m");
            }
            s.sender.ifPresent(sender -> {
                try {
                    InternetAddress address = new InternetAddress(sender, true);
                    if (address.isGroup() || !address.getAddress().contains("@")) {
                        throw new AddressException(sender);
                    }
                } catch (AddressException ex) {
                    problems.add("mailgate.sender='" + sender + "' is not a mailbox address; write it like "
                            + "mailgate@contoso.com");
                }
            });
            brokerUsers(s.broker);
            if (s.sandbox()) {
                return;
            }
            Entra e = s.entra;
            if (e.tenantId().isBlank()) {
                problems.add("mailgate.entra.tenant-id is empty but mailgate.sandbox=false; set it to your tenant's "
                        + "Directory (tenant) ID from Entra admin center > Overview");
            }
            if (e.clientId().isBlank()) {
                problems.add("mailgate.entra.client-id is empty; set it to the app registration's "
                        + "Application (client) ID");
            }
            if (e.clientSecret().isPresent() && e.clientSecretFile().isPresent()) {
                problems.add("both mailgate.entra.client-secret and mailgate.entra.client-secret-file are set; keep one");
            }
            int credentials = (e.clientSecret().isPresent() || e.clientSecretFile().isPresent() ? 1 : 0)
                    + (e.certificateFile().isPresent() || e.privateKeyFile().isPresent() ? 1 : 0)
                    + (e.pkcs12File().isPresent() ? 1 : 0);
            if (credentials == 0) {
                problems.add("no client credential: set MAILGATE_ENTRA_CLIENT_SECRET (or mailgate.entra.client-secret-file), "
                        + "or mailgate.entra.certificate-file + mailgate.entra.private-key-file, "
                        + "or mailgate.entra.pkcs12-file");
            } else if (credentials > 1) {
                problems.add("more than one client credential is configured (secret, PEM certificate, PKCS#12); "
                        + "keep exactly one");
            }
            if (e.certificateFile().isPresent() != e.privateKeyFile().isPresent()) {
                problems.add("mailgate.entra.certificate-file and mailgate.entra.private-key-file go together; "
                        + "set both (PEM files) or neither");
            }
            if (!e.authorityHost().startsWith("https://")) {
                problems.add("mailgate.entra.authority-host='" + e.authorityHost() + "' must start with https:// "
                        + "(e.g. https://login.microsoftonline.com or https://login.microsoftonline.us)");
            }
            if (s.sender.isEmpty()) {
                problems.add("mailgate.sender is empty; set it to the mailbox Mailgate sends as "
                        + "(the one the app was given access to with Add-MailboxPermission)");
            }
        }

        /** The client user of the embedded broker cannot be one of its own users, nor share their passwords. */
        private void brokerUsers(Broker b) {
            if (b.user().equals(Broker.INTERNAL) || b.user().equals(Broker.OPERATOR)) {
                problems.add("mailgate.broker.user=" + b.user() + " is the name of a user the embedded broker keeps "
                        + "for itself; choose another name (the default is mailgate)");
            }
            if (b.operatorPassword().isPresent() && b.operatorPassword().equals(b.password())) {
                problems.add("mailgate.broker.operator-password is the same as mailgate.broker.password: the operator "
                        + "user may take dead letters, clients may not; give it a password of its own");
            }
        }

        void throwIfProblems() {
            if (!problems.isEmpty()) {
                throw new ConfigurationException(problems);
            }
        }
    }
}
