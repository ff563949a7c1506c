package dev.mailgate.app;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;

import io.vertx.core.Vertx;

import javax.net.ssl.SSLContext;

import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.CamelConfiguration;
import org.apache.camel.CamelContext;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.jms.JmsComponent;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpServerConfiguration;
import org.apache.camel.spi.Resource;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.jsse.KeyManagersParameters;
import org.apache.camel.support.jsse.KeyStoreParameters;
import org.apache.camel.support.jsse.SSLContextParameters;
import org.apache.camel.support.jsse.SecureSocketProtocolsParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jms.connection.CachingConnectionFactory;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

import dev.mailgate.auth.ClientCredentials;
import dev.mailgate.auth.EntraTokenSource;
import dev.mailgate.auth.TokenCache;
import dev.mailgate.auth.XOAuth2;
import dev.mailgate.auth.XOAuth2Authenticator;
import dev.mailgate.channel.QueuedRequest;
import dev.mailgate.channel.Submission;
import dev.mailgate.channel.SubmitEndpoint;
import dev.mailgate.channel.Uploads;
import dev.mailgate.channel.http.ApiKeyAuthentication;
import dev.mailgate.channel.http.ApiKeys;
import dev.mailgate.channel.http.HttpApi;
import dev.mailgate.channel.http.HttpListener;
import dev.mailgate.channel.http.PartialUploads;
import dev.mailgate.channel.http.ResponseHeaders;
import dev.mailgate.channel.jms.EmbeddedBroker;
import dev.mailgate.channel.jms.JmsChannel;
import dev.mailgate.channel.jms.OversizedRequests;
import dev.mailgate.channel.outbox.OutboxChannel;
import dev.mailgate.channel.outbox.OutboxEntries;
import dev.mailgate.channel.outbox.OutboxFiles;
import dev.mailgate.channel.outbox.OutboxWatch;
import dev.mailgate.compose.MimeComposer;
import dev.mailgate.config.Background;
import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.GeneratedSecret;
import dev.mailgate.config.Ports;
import dev.mailgate.config.PrivateFolders;
import dev.mailgate.config.SecretFiles;
import dev.mailgate.config.Settings;
import dev.mailgate.config.TrustStores;
import dev.mailgate.ops.HealthChecks;
import dev.mailgate.ops.Metrics;
import dev.mailgate.outcome.DeliveryLog;
import dev.mailgate.outcome.H2Housekeeping;
import dev.mailgate.outcome.JdbcJournal;
import dev.mailgate.outcome.Journal;
import dev.mailgate.policy.DeliveryPolicy;
import dev.mailgate.policy.FailureClassifier;
import dev.mailgate.policy.MailboxProbe;
import dev.mailgate.render.TemplateRenderer;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.MailRequestValidator;
import dev.mailgate.request.SenderRules;
import dev.mailgate.sandbox.Sandbox;
import dev.mailgate.text.Text;
import dev.mailgate.transport.DeliverySteps;
import dev.mailgate.transport.MailboxHealthCheck;
import dev.mailgate.transport.MailboxPacing;
import dev.mailgate.transport.ProxyTunnel;
import dev.mailgate.transport.ShutdownCutoff;
import dev.mailgate.transport.SmtpEndpoint;
import dev.mailgate.transport.XOAuth2MailSender;

/**
 * The one place that builds Mailgate's object graph from {@link Settings} and hands it to Camel: beans
 * for the {@code smtp} endpoint, the shared delivery route and policy, the channel route templates, and then
 * the user's routes from {@code routes/*.yaml} (or the defaults inside the jar).
 */
public class MailgateConfiguration implements CamelConfiguration {

    /** The journal in Camel's registry, for the HTTP API's state queries and for tests. */
    public static final String JOURNAL_BEAN = "mailgateJournal";
    /** Where in the jar Mailgate's own routes and route templates are (each replaceable from the routes folder). */
    public static final String SHIPPED_ROUTES = "mailgate";
    /** The journal's database, for the operator's own reports (README "Your own routes"). */
    public static final String JOURNAL_DATA_SOURCE_BEAN = "mailgateJournalDataSource";
    /** The metrics ({@link Metrics}), for tests and for routes that add their own. */
    public static final String METRICS_BEAN = "mailgateMetrics";

    private static final Logger LOG = LoggerFactory.getLogger(MailgateConfiguration.class);

    /** What {@link #startEarly} started on other threads, for {@link #abandon()}; last first. */
    private final Deque<AutoCloseable> startedEarly = new ConcurrentLinkedDeque<>();

    @Override
    public void configure(CamelContext context) throws Exception {
        Settings settings = Settings.read(key -> context.getPropertiesComponent().resolveProperty(key));
        SecretFiles.warnings(settings).forEach(LOG::warn);
        // before any route resolves its components: a user route's component may come from plugins/
        Path pluginsDir = settings.pluginsDir();
        Plugins.load(pluginsDir, context.getApplicationContextClassLoader() != null
                ? context.getApplicationContextClassLoader() : MailgateConfiguration.class.getClassLoader())
                .ifPresent(plugins -> {
                    LOG.info("Plugins from {}: {}", pluginsDir, Plugins.names(plugins));
                    context.setApplicationContextClassLoader(plugins);
                });
        // before the steps on other threads make their folders inside data/: H2 fails to open its database when
        // another thread creates a parent folder of it at the same moment
        createFolders(settings);
        Early early = startEarly(settings);
        Optional<KeyStore> trust = Optional.empty();
        if (settings.sandbox()) {
            String why = settings.entra().tenantId().isBlank()
                    ? "no Microsoft tenant is configured: mailgate.entra.tenant-id is empty"
                    : "forced by mailgate.sandbox=true, although a tenant is configured";
            Sandbox sandbox = Sandbox.start(settings.sandboxDir(), settings.entra().clientSecret());
            context.addService(sandbox, true, true);
            settings = settings.withSandbox("localhost", sandbox.smtpPort(), sandbox.authorityHost(), Sandbox.TENANT,
                    Sandbox.CLIENT_ID, sandbox.clientSecret(), Sandbox.SENDER);
            trust = Optional.of(sandbox.trustStore());
            banner(settings, sandbox, why);
        } else if (settings.trust().isPresent()) {
            trust = Optional.of(TrustStores.load(settings.trust().get()));
            LOG.warn("TLS: trusting ONLY the certificates in {} (mailgate.tls.truststore) for SMTP and Entra ID, "
                    + "instead of the Java runtime's public CAs", settings.trust().get().file());
        }
        // routes refer to {{mailgate.outbox.dir}} whether or not anyone set it: publish the effective value; the
        // HTTP routes are made only when the listener is on (their precondition)
        context.getPropertiesComponent().addInitialProperty("mailgate.outbox.dir", settings.outbox().dir().toString());
        context.getPropertiesComponent().addOverrideProperty("mailgate.http.enabled",
                String.valueOf(settings.http().enabled()));

        TokenCache tokens = TokenCache.of(
                new EntraTokenSource(settings.entra(), ClientCredentials.from(settings.entra()),
                        trust.map(TrustStores::sslContext).map(SSLContext::getSocketFactory)),
                settings, context.getExecutorServiceManager().newSingleThreadExecutor(this, "mailgate-token"));
        settings.entra().proxy().ifPresent(proxy -> LOG.info("Entra ID is reached through the proxy {}", proxy));
        String sender = settings.sender().orElseThrow();
        XOAuth2Authenticator authenticator = new XOAuth2Authenticator(tokens, sender);
        context.getRegistry().bind(SmtpEndpoint.AUTHENTICATOR_BEAN, authenticator);
        XOAuth2MailSender mailSender = settings.smtp().pool()
                ? new XOAuth2MailSender(settings.limits().connectionsPerMailbox(), settings.smtp().idleTimeout(),
                        settings.smtp().validateAfter())
                : new XOAuth2MailSender();
        mailSender.form(XOAuth2.Form.of(settings.smtp().xoauth2Form()));
        if (settings.smtp().proxy().isPresent()) {
            mailSender.proxy(new ProxyTunnel(settings.smtp().proxy().get(), settings.smtp().connectTimeout()));
            LOG.info("SMTP connections go through the proxy {}", settings.smtp().proxy().get());
        }
        // camel-mail sets it too, but only when the endpoint makes its producer, on the thread of the first message
        // and into a plain field: the probe thread must not depend on seeing that
        mailSender.setAuthenticator(authenticator);
        context.addService(new Closer(mailSender::closeIdle), true, true);
        context.getRegistry().bind(SmtpEndpoint.SENDER_BEAN, mailSender);
        context.getManagementStrategy().addEventNotifier(new ShutdownCutoff(context, mailSender,
                settings.delivery().shutdownTimeout()));
        trust.ifPresent(t -> context.getRegistry().bind(SmtpEndpoint.TLS_BEAN, TrustStores.parameters(t)));

        TemplateRenderer renderer = new TemplateRenderer(settings.templatesDir());
        MailRequestValidator validator = new MailRequestValidator(settings.sender(), settings.limits(),
                renderer::exists, senderRules(settings));
        JdbcJournal journal = journal(context, early.journal())
                .mailboxes((channel, from) -> validator.forChannel(channel).mailboxFor(from));
        Settings.Smtp smtp = settings.smtp();
        MailboxPacing pacing = new MailboxPacing(settings.limits(), settings.delivery(), journal, Clock.systemUTC());
        FailureClassifier classifier = new FailureClassifier();
        Metrics metrics = new Metrics();
        context.getRegistry().bind(METRICS_BEAN, metrics);
        metrics.token(tokens);
        metrics.mailboxes(pacing);
        metrics.outbox(settings.outbox().dir());
        DeliveryLog deliveryLog = new DeliveryLog(metrics.registry());
        // the decision step of the error policy (mailgate/mailgate-delivery.yaml)
        context.getRegistry().bind(DeliveryPolicy.BEAN, new DeliveryPolicy(settings.delivery(), classifier, journal,
                pacing, deliveryLog, Clock.systemUTC(), settings.entra().clientId()));
        context.addService(new MailboxProbe(pacing, mailSender, classifier, settings.delivery().authProbeInterval(),
                context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "mailgate-probe"),
                settings.entra().clientId()));
        // Camel's health registry takes the checks it finds in the bean registry
        MailboxHealthCheck mailboxHealth = new MailboxHealthCheck(pacing, journal, deliveryLog);
        mailboxHealth.setCamelContext(context);
        context.getRegistry().bind(MailboxHealthCheck.ID + "HealthCheck", mailboxHealth);
        // the steps of mailgate/mailgate-deliver.yaml, and the smtp endpoint it ends in
        context.getRegistry().bind(DeliverySteps.BEAN, new DeliverySteps(validator, new MimeComposer(renderer), journal,
                pacing, deliveryLog, smtp.host() + ":" + smtp.port(), settings.sandbox()));
        context.getPropertiesComponent().addOverrideProperty("mailgate.smtp.endpoint",
                SmtpEndpoint.uri(smtp, trust.isPresent()));
        // every channel hands its requests to the durable queue; the JMS route is the one that sends
        Uploads uploads = new Uploads(settings.jms().attachmentsDir());
        OutboxFiles outboxFiles = new OutboxFiles(settings.sandbox() ? settings.sandboxDir() : null);
        OutboxWatch outboxWatch = new OutboxWatch(outboxFiles, journal, settings.outbox().settleTime(),
                settings.outbox().stalledAfter(), Clock.systemUTC());
        ProducerTemplate producer = context.createProducerTemplate();
        Path signingKeyFile = settings.dataDir().resolve("queue-signing-key");
        QueuedRequest signer = new QueuedRequest(settings.jms().signingKey().orElseGet(() -> GeneratedSecret.in(
                signingKeyFile, "key to sign the requests Mailgate queues", "MAILGATE_JMS_SIGNING_KEY")));
        Broker broker = jms(context, settings, early.broker(), validator, journal, uploads, outboxFiles,
                signer);
        if (broker.embedded() != null) {
            String queue = settings.jms().queue();
            metrics.queueDepth(broker.embedded(), b -> b.messageCount(queue));
        }
        HealthChecks.register(context, settings.sandbox(), smtp.host() + ":" + smtp.port(), tokens, journal,
                () -> broker.connections().createConnection().close(), settings.outbox().dir(), outboxWatch);
        // a file twice the message size limit cannot make a mail within it, whatever its encoding
        OutboxEntries outboxEntries = new OutboxEntries(settings.outbox().readTimeout(),
                2 * settings.limits().maxMessageBytes());
        OutboxChannel outbox = new OutboxChannel(new AttachmentRoot(settings.outbox().attachmentsDir()), renderer,
                validator.forChannel("outbox"), journal, outboxEntries, outboxFiles, uploads, signer);
        // the steps of the outbox route templates (mailgate/mailgate-outbox.yaml), and their file endpoint's timing
        context.getRegistry().bind(OutboxChannel.BEAN, outbox);
        context.getRegistry().bind(OutboxWatch.BEAN, outboxWatch);
        outboxTiming(settings.outbox()).forEach(context.getPropertiesComponent()::addOverrideProperty);
        Submission submission = new Submission(journal, uploads, producer, settings.jms().queue(), signer);
        // direct:mailgate-submit: user routes in routes/ hand requests to the durable queue through it
        context.getRegistry().bind(SubmitEndpoint.BEAN, new SubmitEndpoint(validator.forChannel("route"), uploads,
                submission));
        if (settings.http().enabled()) {
            http(context, settings, validator, journal, uploads, submission, metrics);
        }
        loadRoutes(context, settings.routesDir());
        if (early.broker() != null) {
            early.broker().awaitStart();
        }
        if (settings.http().enabled()) {
            // only now, holding the broker's and the journal's locks, and before the listener opens
            PartialUploads.sweepAtStart(httpUploads(settings));
        }
    }

    /** Where Vert.x writes the file parts of multipart requests while they arrive (PartialUploads). */
    private static Path httpUploads(Settings settings) {
        return settings.dataDir().resolve("http-uploads");
    }

    /**
     * The slow steps that need nothing but the settings, started on their own threads so that they overlap with the
     * rest of the set-up: the journal's database (H2 and its migrations), joined where the journal is first needed,
     * and the embedded broker (null when external), joined at the end of the set-up so that its failure is reported
     * like any other setting's. Start-up is mostly loading and initialising classes, which the second core does
     * meanwhile.
     */
    private record Early(Background<OpenJournal> journal, EmbeddedBroker broker) {
    }

    private Early startEarly(Settings settings) {
        Background<OpenJournal> journal = Background.start("mailgate-journal-start",
                () -> openJournal(settings.journal()));
        // not waited for beyond 10 s (an unreachable server): the failed start-up is reported, the process ends
        startedEarly.push(() -> journal.join(Duration.ofSeconds(10)).dataSource().close());
        EmbeddedBroker broker = null;
        if (settings.broker().embedded()) {
            // the clients' password (producers only); the gateway's own user has one of its own, in memory
            String brokerPassword = settings.broker().password().orElseGet(() -> GeneratedSecret.in(
                    settings.dataDir().resolve("broker-password"), "password for the embedded broker",
                    "MAILGATE_BROKER_PASSWORD"));
            broker = new EmbeddedBroker(settings.broker(), settings.jms(), brokerPassword,
                    settings.limits().maxMessageBytes());
            broker.startInBackground();
            startedEarly.push(broker::abandon);
        }
        return new Early(journal, broker);
    }

    /**
     * Stops what {@link #startEarly} started when start-up fails after it: Camel stops only the services it started
     * itself, and in the same JVM (the tests) they would go on running, the broker with the in-VM acceptor the next
     * gateway needs.
     */
    public void abandon() {
        for (AutoCloseable started = startedEarly.poll(); started != null; started = startedEarly.poll()) {
            try {
                started.close();
            } catch (Exception | Error e) {
                // the start-up's own failure is what gets reported; this one must not replace it
                LOG.debug("Stopping {} after a failed start-up: {}", started, e.toString());
            }
        }
    }

    /**
     * The HTTP API on a Vert.x platform-http server: API keys checked before any body is read, a body limit
     * ({@code 413} beyond it), uploads kept out of the working directory.
     */
    private static void http(CamelContext context, Settings settings, MailRequestValidator validator, Journal journal,
            Uploads uploads, Submission submission, Metrics metrics) throws Exception {
        Settings.Http http = settings.http();
        Ports.requireFree("mailgate.http.port", http.host(), http.port(), "another program listens there; set "
                + "mailgate.http.port to a free port (or mailgate.http.enabled=false)");
        ApiKeys keys = ApiKeys.load(http, settings.dataDir());
        // the platform-http server finds this Vert.x in the registry: the HTTP server it creates gets Mailgate's
        // connection limits and timeouts (HttpListener says why this is the place)
        Vertx vertx = HttpListener.vertx(Vertx.vertx(), http);
        context.getRegistry().bind("mailgateVertx", vertx);
        context.addService(new Closer(() -> vertx.close().toCompletionStage().toCompletableFuture()
                .get(10, TimeUnit.SECONDS)), true, true);
        VertxPlatformHttpServerConfiguration server = new VertxPlatformHttpServerConfiguration();
        server.setBindHost(http.host());
        server.setBindPort(http.port());
        server.setMaxBodySize(http.maxBodyBytes());
        server.getBodyHandler().setUploadsDirectory(httpUploads(settings).toString());
        server.getBodyHandler().setDeleteUploadedFilesOnEnd(true);
        server.setAuthenticationConfig(ApiKeyAuthentication.everyPath(keys, http.requestsPerMinute(),
                http.requestTimeout(), httpUploads(settings)));
        http.tlsKeystore().ifPresent(tls -> server.setSslContextParameters(listenerTls(tls)));
        context.addService(HttpListener.server(server, http), true, true);
        context.getRegistry().bind(ResponseHeaders.BEAN, new ResponseHeaders());
        // the beans of the HTTP routes (mailgate/mailgate-http.yaml; metrics: mailgateMetrics)
        context.getRegistry().bind(HttpApi.BEAN, new HttpApi(validator.forChannel("http"), journal, uploads,
                submission));
        LOG.info("HTTP API on {}://{}:{}{} ({} API key(s): {})", http.tlsKeystore().isPresent() ? "https" : "http",
                http.host(), http.port(), HttpApi.BASE, keys.count(), keys.names());
    }

    /** Whom each channel may send as and to; logged, since it is what keeps a channel from spoofing. */
    private static Map<String, SenderRules> senderRules(Settings settings) {
        Map<String, SenderRules> rules = new LinkedHashMap<>();
        settings.senders().forEach((channel, s) -> {
            rules.put(channel, SenderRules.of(s));
            if (channel.equals("cli")) {
                return;
            }
            LOG.info("The {} channel sends as {}{}", channel, s.forced().map(f -> f + " only")
                    .orElse(s.allowed().equals(List.of("*")) ? "any sender (mailgate.allowed-senders)"
                            : String.join(", ", s.allowed())),
                    s.recipientDomains().isEmpty() ? "" : ", to " + String.join(", ", s.recipientDomains()));
            s.authenticateAs().forEach(rule -> LOG.info("The {} channel authenticates as {} for {} (Send As)",
                    channel, rule.mailbox(), rule.senders().equals("*") ? "every sender" : rule.senders()));
        });
        return rules;
    }

    /** The journal, once opened, in Camel's registry and closed when Camel stops. */
    private static JdbcJournal journal(CamelContext context, Background<OpenJournal> opening) throws Exception {
        OpenJournal open = opening.join();
        context.addService(new Closer(open.dataSource()), true, true);
        if (open.housekeeping()) {
            context.addService(new H2Housekeeping(open.dataSource(), context.getExecutorServiceManager()
                    .newSingleThreadScheduledExecutor(open.journal(), "mailgate-journal-housekeeping")), true, true);
        }
        context.getRegistry().bind(JOURNAL_BEAN, open.journal());
        // for the operator's reports (camel-sql's dataSource=#mailgateJournalDataSource): to query, not to write
        context.getRegistry().bind(JOURNAL_DATA_SOURCE_BEAN, open.dataSource());
        return open.journal();
    }

    /** @param housekeeping whether the database needs {@link H2Housekeeping} */
    private record OpenJournal(HikariDataSource dataSource, JdbcJournal journal, boolean housekeeping) {
    }

    /** The journal database (embedded H2 unless configured), its schema migrated before anything uses it. */
    private static OpenJournal openJournal(Settings.Journal settings) throws SQLException {
        HikariConfig pool = new HikariConfig();
        pool.setPoolName("mailgate-journal");
        pool.setJdbcUrl(settings.url());
        settings.user().ifPresent(pool::setUsername);
        settings.password().ifPresent(pool::setPassword);
        pool.setMaximumPoolSize(4);
        HikariDataSource dataSource;
        try {
            dataSource = new HikariDataSource(pool);
        } catch (RuntimeException e) {
            throw new ConfigurationException("the delivery journal database at mailgate.journal.url cannot be opened ("
                    + Text.oneLine(e.getMessage()) + "); check the URL, user and password");
        }
        try {
            JdbcJournal journal = new JdbcJournal(dataSource, settings.idempotencyWindow(), Clock.systemUTC()).migrate();
            return new OpenJournal(dataSource, journal, H2Housekeeping.needed(dataSource));
        } catch (SQLException | RuntimeException e) {
            dataSource.close();
            throw e;
        }
    }

    /** The embedded broker (null when external) and the connections to whichever broker is used. */
    private record Broker(EmbeddedBroker embedded, jakarta.jms.ConnectionFactory connections) {
    }

    /**
     * The connections to the broker (the embedded one, already starting, unless mailgate.jms.url is set), the jms
     * component, and the JMS channel template.
     */
    private static Broker jms(CamelContext context, Settings settings, EmbeddedBroker embedded,
            MailRequestValidator validator, Journal journal, Uploads uploads, OutboxFiles outboxFiles,
            QueuedRequest signer) throws Exception {
        Settings.Jms jms = settings.jms();
        ActiveMQConnectionFactory broker;
        if (embedded != null) {
            context.addService(embedded, true, true);
            // the gateway's own user, not the clients': only it may consume the queue
            broker = embedded.internalConnections();
        } else {
            LOG.info("JMS: using the external broker at {}", jms.url().orElseThrow());
            broker = new ActiveMQConnectionFactory(jms.url().get(), jms.user().orElse(null), jms.password().orElse(null));
        }
        CachingConnectionFactory connections = new CachingConnectionFactory(broker);
        connections.setReconnectOnException(true);
        context.addService(new Closer(() -> {
            connections.destroy();
            broker.close();
        }), true, true);
        context.addComponent("jms", JmsComponent.jmsComponent(connections));
        context.getPropertiesComponent().addInitialProperty("mailgate.jms.queue", jms.queue());
        context.getPropertiesComponent().addInitialProperty("mailgate.jms.consumers",
                Integer.toString(jms.consumers()));
        Files.createDirectories(jms.attachmentsDir());
        long maxRequestBytes = settings.limits().maxMessageBytes();
        // the steps of the JMS route template (mailgate/mailgate-jms.yaml); a message too large to hold is not
        // received at all (its body would be read into memory on receipt, before Mailgate could look at its size)
        context.getRegistry().bind(JmsChannel.BEAN, new JmsChannel(validator, journal, uploads, outboxFiles, signer,
                embedded != null, maxRequestBytes));
        context.getPropertiesComponent().addOverrideProperty("mailgate.jms.receivable",
                "RAW(" + OversizedRequests.selector(maxRequestBytes) + ")");
        return new Broker(embedded, connections);
    }

    /** Closes a resource when Camel stops. */
    private record Closer(AutoCloseable resource) implements org.apache.camel.Service {
        @Override
        public void start() {
        }

        @Override
        public void stop() {
            try {
                resource.close();
            } catch (Exception e) {
                LOG.warn("Closing {} failed: {}", resource, e.toString());
            }
        }
    }

    /**
     * Mailgate's own routes and route templates ({@code mailgate/*.yaml} in the jar), each replaced by a file of the
     * same name in the routes folder; then {@code routes/*.yaml} from the working directory when that folder exists,
     * else the jar's defaults. The templates go first: the channel routes are made from them.
     */
    private static void loadRoutes(CamelContext context, Path routesDir) throws Exception {
        boolean own = Files.isDirectory(routesDir);
        String pattern = own ? "file:" + routesDir.toAbsolutePath() + "/*.yaml" : "classpath:routes/*.yaml";
        var resolver = PluginHelper.getPackageScanResourceResolver(context);
        Collection<Resource> resources = resolver.findResources(pattern);
        List<String> names = new ArrayList<>();
        resources.forEach(r -> names.add(fileName(r)));
        List<Resource> shipped = new ArrayList<>();
        for (Resource resource : resolver.findResources("classpath:" + SHIPPED_ROUTES + "/*.yaml")) {
            if (own && names.contains(fileName(resource))) {
                LOG.warn("Using {} instead of Mailgate's own {}", routesDir.resolve(fileName(resource)),
                        fileName(resource));
            } else {
                shipped.add(resource);
            }
        }
        PluginHelper.getRoutesLoader(context).loadRoutes(shipped);
        if (resources.isEmpty()) {
            LOG.warn("No routes found in {}: no channel is active", pattern);
            return;
        }
        LOG.info("Loading channel routes: {}", resources.stream().map(Resource::getLocation).toList());
        PluginHelper.getRoutesLoader(context).loadRoutes(resources);
    }

    /**
     * The outbox folders' read lock and polling in milliseconds, from {@code mailgate.outbox.settle-time} and
     * {@code poll-interval}: a file counts as written once unchanged for the settle time, looked at twice in it.
     */
    private static Map<String, String> outboxTiming(Settings.Outbox outbox) {
        long settle = outbox.settleTime().toMillis();
        return Map.of("mailgate.outbox.settle-time-ms", String.valueOf(settle),
                "mailgate.outbox.lock-check-interval-ms", String.valueOf(Math.max(50, Math.min(1000, settle / 2))),
                "mailgate.outbox.lock-timeout-ms", String.valueOf(Math.max(10_000, settle * 5)),
                "mailgate.outbox.poll-interval-ms", String.valueOf(outbox.pollInterval().toMillis()));
    }

    private static String fileName(Resource resource) {
        String location = resource.getLocation();
        return location.substring(location.lastIndexOf('/') + 1);
    }

    private static void createFolders(Settings settings) throws IOException {
        Files.createDirectories(settings.outbox().dir());
        Files.createDirectories(settings.outbox().attachmentsDir());
        // owner-only: whole messages, Bcc addresses and secrets are kept in these (PrivateFolders)
        PrivateFolders.create(settings.dataDir(), "mailgate.data.dir");
        if (settings.broker().embedded()) {
            // made here rather than by the broker's thread, while H2 may be making a folder next to it
            PrivateFolders.create(settings.broker().dir(), "mailgate.broker.dir");
        }
        // JMS producers write their attachments there: outside data/ a group of them may share it
        Path jmsAttachments = settings.jms().attachmentsDir();
        PrivateFolders.create(jmsAttachments, "mailgate.jms.attachments-dir",
                !jmsAttachments.toAbsolutePath().normalize().startsWith(settings.dataDir().toAbsolutePath().normalize()));
        if (settings.sandbox()) {
            PrivateFolders.create(settings.sandboxDir(), "mailgate.data.dir");
        }
    }

    private static void banner(Settings settings, Sandbox sandbox, String why) {
        String line = "=".repeat(92);
        LOG.warn("\n{}\n  SANDBOX MODE ({}).\n"
                + "  Mail goes to an embedded STARTTLS + XOAUTH2 server on localhost:{}, with tokens from an\n"
                + "  embedded HTTPS token endpoint at {}. Delivered mail is written to\n"
                + "  {}  --  NOTHING LEAVES THIS MACHINE.\n"
                + "  To send for real, see the README section \"From sandbox to a real tenant\".\n{}", line,
                why, sandbox.smtpPort(), sandbox.authorityHost(), settings.sandboxDir().toAbsolutePath(), line);
    }

    /** TLS 1.2+ for the HTTP listener, with the key and certificate of {@code mailgate.http.tls.keystore}. */
    private static SSLContextParameters listenerTls(Settings.Trust tls) {
        KeyStore keys;
        try (InputStream in = Files.newInputStream(tls.file())) {
            keys = KeyStore.getInstance("PKCS12");
            keys.load(in, tls.password().toCharArray());
        } catch (IOException | GeneralSecurityException e) {
            throw new ConfigurationException("mailgate.http.tls.keystore=" + tls.file() + " cannot be read as a "
                    + "PKCS#12 key store (" + Text.oneLine(e.getMessage()) + "); check the file and "
                    + "mailgate.http.tls.keystore-password (MAILGATE_HTTP_TLS_KEYSTORE_PASSWORD)");
        }
        KeyStoreParameters store = new KeyStoreParameters();
        store.setKeyStore(keys);
        KeyManagersParameters keyManagers = new KeyManagersParameters();
        keyManagers.setKeyStore(store);
        keyManagers.setKeyPassword(tls.password());
        SecureSocketProtocolsParameters protocols = new SecureSocketProtocolsParameters();
        protocols.setSecureSocketProtocol(List.of("TLSv1.3", "TLSv1.2"));
        SSLContextParameters parameters = new SSLContextParameters();
        parameters.setKeyManagers(keyManagers);
        parameters.setSecureSocketProtocols(protocols);
        return parameters;
    }
}
