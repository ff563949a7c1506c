package dev.mailgate;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.spi.ContextAwareBase;
import ch.qos.logback.core.status.NopStatusListener;

/**
 * Mailgate's logging, set up in code instead of a {@code logback.xml}: logback finds this class as a service
 * ({@code META-INF/services}) before it looks for configuration files, and building the same setup from XML (an XML
 * parser, logback's configuration model) took about a tenth of a second of every start-up.
 * <ul>
 * <li>one console appender: text, or one JSON object per line with {@code MAILGATE_LOG_FORMAT=json} (
 * {@link Mailgate#main} checks the value and passes it on as the system property {@code mailgate.log.format});</li>
 * <li>the root level from {@code MAILGATE_LOG_LEVEL} (INFO by default);</li>
 * <li>the loggers that print secrets at DEBUG never below INFO ({@link Mailgate#LEAKY_LOGGERS}), and Artemis' audit
 * log (a line for every message it receives) at WARN.</li>
 * </ul>
 * A file named by {@code -Dlogback.configurationFile}, or a {@code logback-test.xml} (the tests'), is used instead.
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_NORMAL_PRIORITY)
public final class LoggingConfiguration extends ContextAwareBase implements Configurator {

    static final String TEXT_PATTERN = "%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level [%thread] %logger{20} - %msg%n";

    @Override
    public ExecutionStatus configure(LoggerContext logback) {
        if (System.getProperty("logback.configurationFile") != null
                || LoggingConfiguration.class.getClassLoader().getResource("logback-test.xml") != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        // like <statusListener class="NopStatusListener"/>: logback's own messages are not printed
        logback.getStatusManager().add(new NopStatusListener());

        boolean json = "json".equalsIgnoreCase(System.getProperty("mailgate.log.format"));
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(logback);
        console.setName(json ? "json" : "text");
        console.setEncoder(json ? jsonEncoder(logback) : textEncoder(logback));
        console.start();

        Logger root = logback.getLogger(Logger.ROOT_LOGGER_NAME);
        String level = System.getProperty("MAILGATE_LOG_LEVEL", System.getenv("MAILGATE_LOG_LEVEL"));
        // as logback reads a level in XML: a name it does not know means DEBUG
        root.setLevel(level == null || level.isBlank() ? Level.INFO : Level.toLevel(level.strip()));
        root.addAppender(console);
        for (String leaky : dev.mailgate.app.GatewayMain.LEAKY_LOGGERS) {
            logback.getLogger(leaky).setLevel(Level.INFO);
        }
        logback.getLogger("org.apache.activemq.audit").setLevel(Level.WARN);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    private static Encoder<ILoggingEvent> textEncoder(LoggerContext logback) {
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(logback);
        encoder.setPattern(TEXT_PATTERN);
        encoder.start();
        return encoder;
    }

    /** The delivery lines' key=value pairs come out as {@code kvpList}. */
    private static Encoder<ILoggingEvent> jsonEncoder(LoggerContext logback) {
        JsonEncoder encoder = new JsonEncoder();
        encoder.setContext(logback);
        encoder.setWithSequenceNumber(false);
        encoder.setWithNanoseconds(false);
        encoder.setWithContext(false);
        encoder.setWithFormattedMessage(true);
        encoder.setWithMessage(false);
        encoder.setWithArguments(false);
        encoder.start();
        return encoder;
    }
}
