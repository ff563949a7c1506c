package dev.mailgate;

import java.util.Map;

import org.apache.camel.main.Main;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.MailgateConfiguration;

/**
 * Entry point. {@code java -jar mailgate.jar} (or {@code run}) starts the gateway: the sandbox when no tenant is
 * configured, Exchange Online otherwise.
 */
public final class Mailgate {

    /** sysexits.h EX_USAGE and EX_CONFIG, so scripts can tell a typo from a broken configuration. */
    static final int EX_USAGE = 64;
    static final int EX_CONFIG = 78;

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
            ConfigurationException config = configurationProblem(e);
            if (config == null) {
                throw e;
            }
            System.err.println(config.getMessage());
            System.exit(EX_CONFIG);
        }
        System.exit(main.getExitCode());
    }

    /**
     * The gateway as a Camel Main, not yet started. Settings come from the jar's {@code application.properties},
     * then {@code mailgate.properties} in the working directory, then environment variables
     * ({@code MAILGATE_SMTP_HOST} for {@code mailgate.smtp.host}), then {@code overrides}.
     */
    public static Main gateway(Map<String, String> overrides) {
        Main main = new Main();
        main.setPropertyPlaceholderLocations(
                "classpath:application.properties;optional=true,file:mailgate.properties;optional=true");
        main.configure().addConfiguration(new MailgateConfiguration());
        overrides.forEach(main::addOverrideProperty);
        return main;
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
