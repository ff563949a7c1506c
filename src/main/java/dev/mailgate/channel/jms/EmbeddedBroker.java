package dev.mailgate.channel.jms;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeoutException;

import javax.management.MBeanServerFactory;

import org.apache.activemq.artemis.api.core.QueueConfiguration;
import org.apache.activemq.artemis.api.core.RoutingType;
import org.apache.activemq.artemis.api.core.SimpleString;
import org.apache.activemq.artemis.core.config.Configuration;
import org.apache.activemq.artemis.core.config.impl.ConfigurationImpl;
import org.apache.activemq.artemis.core.security.CheckType;
import org.apache.activemq.artemis.core.security.Role;
import org.apache.activemq.artemis.core.remoting.impl.invm.InVMConnector;
import org.apache.activemq.artemis.core.server.JournalType;
import org.apache.activemq.artemis.core.server.embedded.EmbeddedActiveMQ;
import org.apache.activemq.artemis.core.settings.impl.AddressSettings;
import org.apache.activemq.artemis.spi.core.security.ActiveMQSecurityManager;
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
 */
public final class EmbeddedBroker extends ServiceSupport {

    public static final String IN_VM = "vm://0";

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedBroker.class);

    private final Settings.Broker broker;
    private final Settings.Jms jms;
    private final String password;
    /** Set before it starts, so that what a start that failed half-way made is stopped too. */
    private volatile EmbeddedActiveMQ server;
    private volatile Background<EmbeddedActiveMQ> starting;

    /** How long the broker waits for the lock of its journal. */
    private static final Duration LOCK_WAIT = Duration.ofSeconds(5);
    /** How long {@link #abandon()} waits for the broker to stop. */
    private static final Duration ABANDON_WAIT = Duration.ofSeconds(10);

    /** @param password the password of {@code broker.user()}: configured, or generated into {@code data/} */
    public EmbeddedBroker(Settings.Broker broker, Settings.Jms jms, String password) {
        this.broker = broker;
        this.jms = jms;
        this.password = password;
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
                .setJMXManagementEnabled(false)
                // a broker of another process using the same folder holds the journal's lock: give up after a
                // while instead of Artemis' default of waiting for ever
                .setJournalLockAcquisitionTimeout(LOCK_WAIT.toMillis())
                .addAcceptorConfiguration("in-vm", IN_VM);
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
                .setSecurityManager(new SingleUser(broker.user(), password))
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
        LOG.info("Embedded broker started: queue {}, dead letters to {}, journal in {}{}", jms.queue(),
                jms.deadLetterQueue(), broker.dir().toAbsolutePath(),
                tcpUrl() == null ? "" : ", accepting connections on " + tcpUrl());
        return started;
    }

    /** One user, allowed everything, password compared in constant time. */
    private record SingleUser(String user, String password) implements ActiveMQSecurityManager {
        @Override
        public boolean validateUser(String name, String secret) {
            return user.equals(name) && secret != null && MessageDigest.isEqual(
                    secret.getBytes(StandardCharsets.UTF_8), password.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public boolean validateUserAndRole(String name, String secret, Set<Role> roles, CheckType checkType) {
            return validateUser(name, secret);
        }
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
