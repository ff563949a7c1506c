package dev.mailgate.app;

import java.util.List;
import java.util.Map;

import org.apache.camel.main.Main;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;

/** The gateway as a Camel Main: what {@code run} starts, and what tests start in-process. */
public final class GatewayMain {

    /** Where settings come from, before environment variables and overrides. */
    public static final String PROPERTY_LOCATIONS =
            "classpath:application.properties;optional=true,file:mailgate.properties;optional=true";

    private GatewayMain() {
    }

    /**
     * The gateway as a Camel Main, not yet started. Settings come from the jar's {@code application.properties},
     * then {@code mailgate.properties} in the working directory, then environment variables
     * ({@code MAILGATE_SMTP_HOST} for {@code mailgate.smtp.host}), then {@code overrides}.
     */
    public static Main create(Map<String, String> overrides) {
        quietLeakyLoggers();
        MailgateConfiguration configuration = new MailgateConfiguration();
        Main main = new Main() {
            // the configuration starts slow steps on their own threads; a failed start-up stops them again
            @Override
            protected void doInit() throws Exception {
                abandonOnFailure(configuration, super::doInit);
            }

            @Override
            protected void doStart() throws Exception {
                abandonOnFailure(configuration, super::doStart);
            }
        };
        main.setPropertyPlaceholderLocations(PROPERTY_LOCATIONS);
        main.configure().addConfiguration(configuration);
        overrides.forEach(main::addOverrideProperty);
        return main;
    }

    private interface Step {
        void run() throws Exception;
    }

    private static void abandonOnFailure(MailgateConfiguration configuration, Step step) throws Exception {
        try {
            step.run();
        } catch (Exception | Error e) {
            configuration.abandon();
            throw e;
        }
    }

    /**
     * Loggers that print secrets at DEBUG: Camel's property parser logs every resolved value (client secret,
     * key passwords), and the sandbox SMTP server logs each client line, AUTH XOAUTH2 included. They stay at
     * INFO whatever the root level is.
     */
    public static final List<String> LEAKY_LOGGERS = List.of("org.apache.camel.component.properties",
            "org.subethamail.smtp.server.Session");

    public static void quietLeakyLoggers() {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logback) {
            for (String name : LEAKY_LOGGERS) {
                Logger logger = logback.getLogger(name);
                if (logger.getLevel() == null || !logger.getLevel().isGreaterOrEqual(Level.INFO)) {
                    logger.setLevel(Level.INFO);
                }
            }
        }
    }
}
