package dev.mailgate.channel.jms;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.Set;
import java.util.concurrent.TimeoutException;

import javax.management.MBeanServerFactory;

import org.apache.activemq.artemis.api.core.QueueConfiguration;
import org.apache.activemq.artemis.api.core.RoutingType;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.config.Configuration;
import org.apache.activemq.artemis.core.config.impl.ConfigurationImpl;
import org.apache.activemq.artemis.core.remoting.impl.invm.InVMConnector;
import org.apache.activemq.artemis.core.server.JournalType;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.core.settings.impl.AddressSettings;
import org.apache.activemq.artemis.jms.client.ActiveMQConnectionFactory;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.config.Background;
import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.Ports;
import dev.mailgate.config.Settings;

/**
 * The default broker: ActiveMQ Artemis inside the gateway, with a persistent journal under {@code data/broker},
 * the mail queue and its dead-letter queue, and a bounded delivery count (a message that keeps failing is moved
 * to the dead-letter queue by the broker itself). Gateway code connects in-VM ({@value #IN_VM}); other processes on
 * this machine through the TCP acceptor on {@code mailgate.broker.host:port}.
 * <p>
 * Three users, each allowed only what it needs ({@link BrokerUsers}): the clients' {@code mailgate.broker.user} may only put
 * messages on the request queue; the opt-in {@value Settings.Broker#OPERATOR} may look at the queue and read, take
 * and send back dead letters; Mailgate's own {@value Settings.Broker#INTERNAL}, which consumes the queue, is accepted
 * only on the in-VM acceptor, with a password made at each start that never leaves this object.
 */
public final class EmbeddedBroker extends ServiceSupport {

    public static final String IN_VM = "vm://0";

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedBroker.class);

    private final Settings.Broker broker;
    private final Settings.Jms jms;
    private final String password;
    private final OversizedRequests oversized;
    /** The gateway's own password: made now, kept in memory, good for this run of the broker only. */
    private final String internalPassword = randomPassword();
    /** Set before it starts, so that what a start that failed half-way made is stopped too. */
    private volatile EmbeddedActiveMQ server;
    private volatile Background<EmbeddedActiveMQ> starting;

    /** How long the broker waits for the lock of its journal. */
    private static final Duration LOCK_WAIT = Duration.ofSeconds(5);
    /** How long {@link #abandon()} waits for the broker to stop. */
    private static final Duration ABANDON_WAIT = Duration.ofSeconds(10);

    /**
     * @param password the clients' password ({@code broker.user()}): configured, or generated into {@code data/}
     * @param maxRequestBytes the largest request the queue takes ({@code mailgate.limits.max-message-size})
     */
    public EmbeddedBroker(Settings.Broker broker, Settings.Jms jms, String password, long maxRequestBytes) {
        this.broker = broker;
        this.jms = jms;
        this.password = password;
        this.oversized = new OversizedRequests(maxRequestBytes, jms.deadLetterQueue());
    }

    /** Connections for the gateway itself (in-VM, as the internal user): the only ones that may consume the queue. */
    public ActiveMQConnectionFactory internalConnections() {
        return new ActiveMQConnectionFactory(IN_VM, Settings.Broker.INTERNAL, internalPassword);
    }

    private static String randomPassword() {
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    }

    /** The URL other processes use, or {@code null} when only in-VM connections are accepted. */
    public String tcpUrl() {
        return broker.port() > 0 ? "tcp://" + broker.host() + ":" + broker.port() : null;
    }

    /**
     * Starts the broker now, on its own thread, instead of when Camel starts its services: its journal, acceptors and
     * queues take a good part of start-up and need nothing else, so they overlap with the rest of the set-up.
     * {@link #awaitStart()} waits for it (and fails as it would have); {@link #abandon()} stops it if start-up fails
     * first.
     */
    public void startInBackground() {
        starting = Background.start("mailgate-broker-start", this::startServer);
    }

    /**
     * Waits for the start begun by {@link #startInBackground()} and throws what made it fail: called at the end of
     * the set-up, so that a broker that cannot start is reported like any other setting (exit code 78, no stack
     * trace from Camel's start).
     */
    public void awaitStart() throws Exception {
        Background<EmbeddedActiveMQ> started = starting;
        if (started != null) {
            started.join();
            starting = null; // only once it has started: a stop in between still waits for it
        }
    }

    @Override
    protected void doStart() throws Exception {
        awaitStart();
        if (server == null) {
            startServer();
        }
    }

    /**
     * Stops the broker however far it got, also when it was started in the background and start-up failed before
     * Camel started this service (Camel stops only what it started; in-process, the broker would keep running).
     * Waits at most 10 s, on another thread: whatever the broker is stuck on, the start-up's own error must still be
     * reported.
     */
    public void abandon() {
        Background<Void> stopping = Background.start("mailgate-broker-stop", () -> {
            doStop();
            return null;
        });
        try {
            stopping.join(ABANDON_WAIT);
        } catch (TimeoutException e) {
            LOG.warn("The embedded broker did not stop within {} s of the failed start-up", ABANDON_WAIT.toSeconds());
        } catch (Exception | Error e) {
            LOG.warn("Stopping the embedded broker failed: {}", e.toString());
        }
    }

    private EmbeddedActiveMQ startServer() throws Exception {
        if (broker.port() > 0) {
            Ports.requireFree("mailgate.broker.port", broker.host(), broker.port(),
                    "another broker (ActiveMQ uses 61616 too)? Set mailgate.broker.port to a free port, or 0 to accept "
                            + "only in-VM connections");
        }
        Configuration config = new ConfigurationImpl()
                .setName("mailgate")
                .setPersistenceEnabled(true)
                // NIO: works everywhere (no libaio needed); the journal is fsynced on every durable send
                .setJournalType(JournalType.NIO)
                .setJournalDirectory(broker.dir().resolve("journal").toString())
                .setBindingsDirectory(broker.dir().resolve("bindings").toString())
                .setPagingDirectory(broker.dir().resolve("paging").toString())
                .setLargeMessagesDirectory(broker.dir().resolve("large-messages").toString())
                // the queues hold whole mails: every connection authenticates, the gateway's own included
                .setSecurityEnabled(true)
                // no cache of who logged in: it is keyed by user and password only, and the internal user is accepted
                // on the in-VM acceptor only, which BrokerUsers checks on every login
                .setAuthenticationCacheSize(0)
                // every message carries the user that sent it (_AMQ_VALIDATED_USER), set by the broker: the JMS
                // channel's principal
                .setPopulateValidatedUser(true)
                .setJMXManagementEnabled(false)
                // a broker of another process using the same folder holds the journal's lock: give up after a
                // while instead of Artemis' default of waiting for ever
                .setJournalLockAcquisitionTimeout(LOCK_WAIT.toMillis())
                .addAcceptorConfiguration("in-vm", IN_VM);
        // a request larger than a mail may be is refused when it is sent, before its body is ever on the heap
        config.registerBrokerPlugin(oversized);
        if (broker.port() > 0) {
            config.addAcceptorConfiguration("tcp", tcpUrl() + "?protocols=CORE");
        }
        config.addAddressSetting("#", new AddressSettings()
                .setDeadLetterAddress(SimpleString.of(jms.deadLetterQueue()))
                .setExpiryAddress(SimpleString.of(jms.deadLetterQueue()))
                .setMaxDeliveryAttempts(jms.maxDeliveries())
                .setRedeliveryDelay(1000)
                .setRedeliveryMultiplier(2)
                .setMaxRedeliveryDelay(30_000));
        config.addQueueConfiguration(QueueConfiguration.of(jms.queue()).setRoutingType(RoutingType.ANYCAST)
                .setDurable(true));
        config.addQueueConfiguration(QueueConfiguration.of(jms.deadLetterQueue()).setRoutingType(RoutingType.ANYCAST)
                .setDurable(true));
        EmbeddedActiveMQ started = new EmbeddedActiveMQ().setConfiguration(config)
                .setSecurityManager(new BrokerUsers(broker.user(), password, broker.operatorPassword(), internalPassword,
                        jms.queue(), jms.deadLetterQueue()))
                // JMX is off, but without a server of its own Artemis creates the platform MBean server, which
                // registers every JVM MBean (a tenth of a second or more at start-up) for nothing
                .setMbeanServer(MBeanServerFactory.newMBeanServer());
        server = started;
        started.start();
        if (!started.getActiveMQServer().isActive()) {
            // Artemis logs why (AMQ224000) and returns from start() without a running broker
            server = null;
            ConfigurationException failure = new ConfigurationException("the embedded broker did not start (see "
                    + "the error above); when it says \"Timed out waiting for lock\", another Mailgate or Artemis "
                    + "broker is using its folder " + broker.dir().toAbsolutePath() + " (its lock was not free within "
                    + LOCK_WAIT.toSeconds() + " s): stop that one, or give this gateway a folder of its own "
                    + "(mailgate.data.dir or mailgate.broker.dir)");
            try {
                started.stop();
            } catch (Exception e) {
                failure.addSuppressed(e);
            }
            throw failure;
        }
        int swept = oversized.sweep(started.getActiveMQServer(), jms.queue());
        if (swept > 0) {
            LOG.warn("Moved {} message(s) larger than {} from {} to {} without reading them; their reason is in the "
                    + "mailgateReason property", swept, OversizedRequests.KEY, jms.queue(), jms.deadLetterQueue());
        }
        LOG.info("Embedded broker started: queue {}, dead letters to {}, journal in {}{}; user {} may only send to {}, "
                + "the operator user {} is {}", jms.queue(), jms.deadLetterQueue(), broker.dir().toAbsolutePath(),
                tcpUrl() == null ? "" : ", accepting connections on " + tcpUrl(), broker.user(), jms.queue(),
                Settings.Broker.OPERATOR, broker.operatorPassword().isPresent() ? "enabled"
                        : "off (mailgate.broker.operator-password)");
        return started;
    }

    /** Messages on {@code queue} now (delivered and scheduled ones included), or -1 when the broker is not running. */
    public long messageCount(String queue) {
        EmbeddedActiveMQ running = server;
        if (running == null || running.getActiveMQServer() == null || !running.getActiveMQServer().isActive()) {
            return -1;
        }
        var found = running.getActiveMQServer().locateQueue(SimpleString.of(queue));
        return found == null ? 0 : found.getMessageCount();
    }

    @Override
    protected void doStop() throws Exception {
        Background<EmbeddedActiveMQ> started = starting;
        starting = null;
        if (started != null) {
            try {
                // a start waits at most LOCK_WAIT for the journal's lock; abandon() limits the wait anyway
                started.join();
            } catch (Exception e) {
                // it failed to start: what it made is stopped below
            }
        }
        EmbeddedActiveMQ running = server;
        server = null;
        if (running != null && running.getActiveMQServer() != null) { // null: stopped before Artemis built it
            running.stop();
        }
        // the in-VM connector's thread pool is not a daemon and would keep the JVM alive after shutdown
        InVMConnector.resetThreadPool();
    }
}
