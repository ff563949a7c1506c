package dev.mailgate;

import dev.mailgate.cli.Cli;

/**
 * Entry point. {@code java -jar mailgate.jar} (or {@code run}) starts the gateway: the sandbox when no tenant is
 * configured, Exchange Online otherwise; {@code send}, {@code token} and {@code doctor} are the operator's commands
 * ({@link Cli}). The gateway itself is built by {@link dev.mailgate.app.GatewayMain}: this class only starts
 * the command line, so that nothing depends on the root package.
 */
public final class Mailgate {

    private Mailgate() {
    }

    public static void main(String[] args) {
        logFormat(System.getenv("MAILGATE_LOG_FORMAT"));
        // exit even when servers started before a failure (the sandbox) still have threads running
        System.exit(Cli.execute(args));
    }

    /**
     * Picks the log format ({@link LoggingConfiguration} reads {@code mailgate.log.format}) before logback starts, and
     * says so when the value is neither {@code text} nor {@code json}.
     */
    static void logFormat(String requested) {
        String given = requested != null ? requested : System.getProperty(LOG_FORMAT);
        String format = given == null || given.isBlank() ? "text" : given.strip().toLowerCase(java.util.Locale.ROOT);
        if (!format.equals("text") && !format.equals("json")) {
            System.err.println("MAILGATE_LOG_FORMAT='" + dev.mailgate.text.Text.printable(given)
                    + "' is neither text nor json; logging as text");
            format = "text";
        }
        System.setProperty(LOG_FORMAT, format);
    }

    private static final String LOG_FORMAT = "mailgate.log.format";
}
