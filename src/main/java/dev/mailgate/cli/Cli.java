package dev.mailgate.cli;

import java.util.Map;
import java.util.concurrent.Callable;

import org.apache.camel.main.Main;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import dev.mailgate.app.GatewayMain;
import dev.mailgate.config.ConfigurationException;

/**
 * {@code java -jar mailgate.jar [run|send|token|doctor]}: the gateway (the default) and the operator's one-shot
 * commands, all reading the same settings.
 */
@Command(name = "mailgate", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = "Mail gateway: outbox, JMS and HTTP requests delivered through Exchange Online SMTP with "
                + "OAuth2 (XOAUTH2). With no command, runs the gateway.",
        subcommands = {Cli.Run.class, SendCommand.class, TokenCommand.class, DoctorCommand.class,
                CommandLine.HelpCommand.class},
        exitCodeOnInvalidInput = ExitCodes.USAGE, exitCodeOnExecutionException = ExitCodes.SOFTWARE)
public final class Cli implements Callable<Integer> {

    @Mixin
    Overrides overrides;

    /** Runs the command line of this process and returns its exit code. */
    public static int execute(String... args) {
        Logs.standalone = true;
        if (args.length == 0) {
            // the gateway with nothing to parse: building the command line (every command and option, by
            // reflection) would take a tenth of a second of its start-up for nothing
            return run(Map.of());
        }
        CommandLine cli = commandLine();
        // the report keeps the real standard output, whatever the commands do with System.out later
        cli.setOut(new java.io.PrintWriter(new java.io.OutputStreamWriter(
                new java.io.FileOutputStream(java.io.FileDescriptor.out), java.nio.charset.StandardCharsets.UTF_8),
                true));
        return cli.execute(args);
    }

    /**
     * The command line, ready to {@code execute}: usage errors exit with 64, a wrong setting with 78, anything
     * unexpected with 70. Run in-process (tests), the commands leave the logging as it is.
     */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Cli());
        for (CommandLine sub : cli.getSubcommands().values()) {
            sub.getCommandSpec().exitCodeOnInvalidInput(ExitCodes.USAGE);
            sub.getCommandSpec().exitCodeOnExecutionException(ExitCodes.SOFTWARE);
        }
        cli.setExecutionExceptionHandler((e, commandLine, parsed) -> {
            ConfigurationException config = configurationProblem(e);
            if (config != null) {
                commandLine.getErr().println(config.getMessage());
                return ExitCodes.CONFIG;
            }
            commandLine.getErr().println("Mailgate failed: " + e);
            e.printStackTrace(commandLine.getErr());
            return ExitCodes.SOFTWARE;
        });
        return cli;
    }

    @Override
    public Integer call() {
        return run(overrides.map());
    }

    @Command(name = "run", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
            description = {"Run the gateway (the default command): the outbox folder, the JMS queue and the HTTP API, "
                    + "delivering through Exchange Online, or the sandbox when no tenant is configured.",
                    "Stop it with Ctrl-C: sends in progress finish, everything else stays pending."},
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:stopped normally", "70:an unexpected error stopped it", "78:a setting is wrong"})
    static final class Run implements Callable<Integer> {
        @Mixin
        Overrides overrides;

        @picocli.CommandLine.ParentCommand
        Cli parent;

        @Override
        public Integer call() {
            return run(overrides.over(parent));
        }
    }

    private static int run(Map<String, String> overrides) {
        Main main = GatewayMain.create(overrides);
        try {
            main.run();
        } catch (Exception e) {
            ConfigurationException config = configurationProblem(e);
            if (config != null) {
                System.err.println(config.getMessage());
                return ExitCodes.CONFIG;
            }
            System.err.println("Mailgate could not start:");
            e.printStackTrace();
            return ExitCodes.SOFTWARE;
        }
        return main.getExitCode();
    }

    static ConfigurationException configurationProblem(Throwable error) {
        String route = null;
        for (Throwable e = error; e != null; e = e.getCause()) {
            if (e instanceof ConfigurationException config) {
                return config;
            }
            if (e instanceof org.apache.camel.FailedToCreateRouteException failed) {
                route = failed.getRouteId();
            }
            if (e instanceof org.apache.camel.NoSuchEndpointException missing && missing.getUri() != null
                    && missing.getUri().indexOf(':') > 0) {
                return missingComponent(route, missing.getUri().substring(0, missing.getUri().indexOf(':')));
            }
        }
        return null;
    }

    /** A route names a component that is on no class path: a setting to fix, not a crash (README "plugins/"). */
    private static ConfigurationException missingComponent(String route, String scheme) {
        String version = org.apache.camel.CamelContext.class.getPackage().getImplementationVersion();
        return new ConfigurationException("the route " + (route == null ? "" : "'" + route + "' ") + "uses '" + scheme
                + ":', a Camel component Mailgate does not ship; put its jar (usually camel-" + scheme
                + (version == null ? "" : "-" + version) + ".jar) and the jars it needs into the plugins folder "
                + "(mailgate.plugins.dir, default plugins/), or remove the route from routes/");
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Cli.class.getPackage().getImplementationVersion();
            return new String[] {"mailgate " + (version == null ? "(development build)" : version)};
        }
    }
}
