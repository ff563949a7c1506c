package dev.mailgate;

import java.util.List;
import java.util.Map;

import org.apache.camel.main.Main;
import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.MailgateConfiguration;

/**
 * Entry point. {@code java -jar mailgate.jar} (or {@code run}) starts the gateway: the sandbox when no tenant is
 * configured, Exchange Online otherwise.
 */
public final class Mailgate {

    /** sysexits.h codes, so scripts can tell a usage error from a broken configuration or a failure. */
    static final int EX_USAGE = 64;
    static final int EX_CONFIG = 78;
    static final int EX_SOFTWARE = 70;

    private Mailgate() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 1 || args.length == 1 && !args[0].equals("run")) {
            System.err.println("Usage: java -jar mailgate.jar [run]");
            System.exit(EX_USAGE);
        }
        Main main = gateway(Map.of());
        try {
            main.run();
        } catch (Exception e) {
            // exit even though servers started before the failure (the sandbox) still have threads running
            ConfigurationException config = configurationProblem(e);
            if (config != null) {
                System.err.println(config.getMessage());
                System.exit(EX_CONFIG);
            }
            System.err.println("Mailgate could not start:");
            e.printStackTrace();
            System.exit(EX_SOFTWARE);
        }
        System.exit(main.getExitCode());
    }

    /**
     * The gateway as a Camel Main, not yet started. Settings come from the jar's {@code application.properties},
     * then {@code mailgate.properties} in the working directory, then environment variables
     * ({@code MAILGATE_SMTP_HOST} for {@code mailgate.smtp.host}), then {@code overrides}.
     */
    public static Main gateway(Map<String, String> overrides) {
        quietLeakyLoggers();
        Main main = new Main();
        main.setPropertyPlaceholderLocations(
                "classpath:application.properties;optional=true,file:mailgate.properties;optional=true");
        main.configure().addConfiguration(new MailgateConfiguration());
        overrides.forEach(main::addOverrideProperty);
        return main;
    }

    /**
     * Loggers that print secrets at DEBUG: Camel's property parser logs every resolved value (client secret,
     * key passwords), and the sandbox SMTP server logs each client line, AUTH XOAUTH2 included. They stay at
     * INFO whatever the root level is.
     */
    static final List<String> LEAKY_LOGGERS = List.of("org.apache.camel.component.properties",
            "org.subethamail.smtp.server.Session");

    static void quietLeakyLoggers() {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logback) {
            for (String name : LEAKY_LOGGERS) {
                Logger logger = logback.getLogger(name);
                if (logger.getLevel() == null || !logger.getLevel().isGreaterOrEqual(Level.INFO)) {
                    logger.setLevel(Level.INFO);
                }
            }
        }
    }

    private static ConfigurationException configurationProblem(Throwable error) {
        for (Throwable e = error; e != null; e = e.getCause()) {
            if (e instanceof ConfigurationException config) {
                return config;
            }
        }
        return null;
    }
}
