package dev.mailgate.cli;

import org.slf4j.LoggerFactory;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;

/**
 * The one-shot commands print their own report on standard output: the libraries' log lines and anything else they
 * print go to standard error, warnings and errors only unless {@code --verbose}, so that {@code --json} output stays
 * parseable.
 */
final class Logs {

    /** True when the command line is this process's own ({@code main}), not a test's. */
    static volatile boolean standalone;

    private Logs() {
    }

    static void forCommand(boolean verbose) {
        if (!standalone || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext logback)) {
            return;
        }
        // libraries that print (Jakarta Mail's protocol trace with mailgate.smtp.debug) must not mix into the report
        System.setOut(System.err);
        dev.mailgate.app.GatewayMain.quietLeakyLoggers();
        Logger root = logback.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        if (!verbose) {
            root.setLevel(Level.WARN);
            // MSAL logs every refused token request at ERROR with Entra's full answer; the report explains it
            logback.getLogger("com.microsoft.aad.msal4j").setLevel(Level.OFF);
        }
        for (var it = root.iteratorForAppenders(); it.hasNext();) {
            Appender<?> appender = it.next();
            if (appender instanceof ConsoleAppender<?> console) {
                console.stop();
                console.setTarget("System.err");
                console.start();
            }
        }
    }
}
