package dev.mailgate.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Help.Ansi;
import picocli.CommandLine.Option;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.Settings;
import dev.mailgate.doctor.Check;
import dev.mailgate.doctor.Doctor;
import dev.mailgate.request.SenderRules;

/** {@code mailgate doctor}: why sending does not work, and the fix. */
@Command(name = "doctor", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, sortOptions = false,
        description = {"Walk the whole sending conversation against the configured tenant and mailbox, step by "
                + "step: configuration, DNS and TCP to the SMTP host, STARTTLS and certificate, EHLO capabilities, "
                + "token acquisition, token claims, AUTH XOAUTH2, MAIL FROM, and optionally a test message.",
                "Each failure names the likely cause and the exact fix. The token is never shown."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every step passed (warnings allowed)", "69:the SMTP server or Entra ID cannot be reached",
                "78:a step failed because of the configuration, the tenant or the mailbox"})
final class DoctorCommand extends OneShotCommand implements Callable<Integer> {

    @Option(names = "--send-to", paramLabel = "ADDRESS", description = "Also send a short test message to ADDRESS.")
    String sendTo;

    @Option(names = "--mailbox", paramLabel = "ADDRESS",
            description = "The mailbox that authenticates (default: the one mailgate.authenticate-as names for "
                    + "--from, else --from itself).")
    String mailbox;

    @Option(names = "--from", paramLabel = "ADDRESS",
            description = "The sender to check, e.g. a shared mailbox sent as with Send As (default: "
                    + "mailgate.sender).")
    String from;

    @Option(names = "--channel", paramLabel = "NAME", defaultValue = "cli",
            description = "Whose mailgate.<channel>.authenticate-as and allowed senders apply to --from: outbox, jms, "
                    + "http, route or cli. Default: ${DEFAULT-VALUE}.")
    String channel;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(names = "--color", paramLabel = "WHEN", defaultValue = "auto",
            description = "Colour the report: auto (when standard output is a terminal and NO_COLOR is not set), "
                    + "always, never. Default: ${DEFAULT-VALUE}.")
    Colour color;

    enum Colour { auto, always, never }



    @Override
    public Integer call() throws Exception {
        Logs.forCommand(verbose);
        PrintWriter out = spec.commandLine().getOut();
        Target target;
        try {
            target = Target.open(settings());
        } catch (ConfigurationException e) {
            Check failed = new Check("configuration", Check.Status.FAIL, "the settings cannot be read", e.getMessage(),
                    "fix the settings named (mailgate.properties, environment variables or --set), then run doctor "
                            + "again", List.of(), false);
            Doctor.Report report = new Doctor.Report("?", "?", "?", "?", List.of(failed));
            print(out, report, false);
            return ExitCodes.CONFIG;
        }
        try (target) {
            Settings.Senders senders = target.settings.senders().get(channel);
            if (senders == null) {
                spec.commandLine().getErr().println("--channel " + channel + ": not a channel; use one of "
                        + String.join(", ", Settings.CHANNELS));
                return ExitCodes.USAGE;
            }
            String sender = from != null ? from : mailbox != null ? mailbox : target.settings.sender().orElse("");
            SenderRules rules = SenderRules.of(senders);
            String authenticating = mailbox != null ? mailbox : rules.mailboxFor(sender);
            if (!rules.mayUseSender(sender)) {
                spec.commandLine().getErr().println("Note: the " + channel + " channel may not send as " + sender
                        + " (mailgate." + channel + ".allowed-senders / mailgate.allowed-senders): requests from it "
                        + "would be refused before they reach Exchange");
            }
            Doctor.Report report = new Doctor(new Doctor.Options(target.settings, target::tokenSource,
                    target.smtpTls(), authenticating, Optional.ofNullable(sendTo), sender)).run();
            print(out, report, target.sandbox());
            return report.exitCode();
        }
    }

    private void print(PrintWriter out, Doctor.Report report, boolean sandbox) throws Exception {
        if (json) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("passed", report.passed());
            body.put("sandbox", sandbox);
            body.put("server", report.server());
            body.put("mailbox", report.mailbox());
            body.put("tenantId", report.tenant());
            body.put("clientId", report.clientId());
            body.put("exitCode", report.exitCode());
            body.put("checks", report.checks());
            out.println(json(body));
            return;
        }
        Ansi ansi = ansi();
        out.println(ansi.string("@|bold Mailgate doctor|@") + ": " + report.server() + " as " + report.mailbox()
                + ", tenant " + report.tenant() + ", app " + report.clientId());
        if (sandbox) {
            out.println("Sandbox: checking the embedded servers (no tenant is configured; set "
                    + "mailgate.entra.tenant-id to check yours).");
        }
        out.println();
        for (Check check : report.checks()) {
            out.println(" " + status(ansi, check.status()) + "  " + String.format("%-14s", check.step())
                    + check.summary());
            if (check.cause() != null) {
                out.println("       " + ansi.string("@|bold cause:|@") + " " + wrap(check.cause()));
            }
            if (check.fix() != null) {
                out.println("       " + ansi.string("@|bold fix:|@") + "   " + wrap(check.fix()));
            }
            for (String line : check.transcript()) {
                out.println("         " + ansi.string("@|faint " + escape(line) + "|@"));
            }
        }
        out.println();
        Optional<Check> failure = report.firstFailure();
        if (failure.isEmpty()) {
            out.println(ansi.string("@|bold,green All checks passed.|@")
                    + (report.checks().stream().anyMatch(c -> c.status() == Check.Status.WARN)
                            ? " Read the warnings above." : ""));
        } else {
            long failed = report.checks().stream().filter(c -> c.status() == Check.Status.FAIL).count();
            out.println(ansi.string("@|bold,red " + failed + " check(s) failed|@") + ": fix the first one ("
                    + failure.get().step() + ") as shown above, then run mailgate doctor again.");
        }
    }

    private static String status(Ansi ansi, Check.Status status) {
        return switch (status) {
            case PASS -> ansi.string("@|bold,green PASS|@");
            case WARN -> ansi.string("@|bold,yellow WARN|@");
            case FAIL -> ansi.string("@|bold,red FAIL|@");
            case SKIP -> ansi.string("@|faint SKIP|@");
        };
    }

    private Ansi ansi() {
        return switch (color) {
            case always -> Ansi.ON;
            case never -> Ansi.OFF;
            case auto -> System.getenv("NO_COLOR") != null || System.console() == null ? Ansi.OFF : Ansi.AUTO;
        };
    }

    /**
     * Long causes and fixes broken at spaces into lines of about 100 characters, every line (a configuration error's
     * own lines too) indented under its label.
     */
    static String wrap(String text) {
        StringBuilder out = new StringBuilder();
        for (String line : text.split("\\R")) {
            int lineStart = out.length();
            if (lineStart > 0) {
                out.append(CONTINUATION);
                lineStart = out.length();
            }
            for (String word : line.strip().split(" ")) {
                // the word and the space before it must fit in 100 characters
                if (out.length() - lineStart + 1 + word.length() > 100 && out.length() > lineStart) {
                    out.append(CONTINUATION);
                    lineStart = out.length();
                } else if (out.length() > lineStart) {
                    out.append(' ');
                }
                out.append(word);
            }
        }
        return out.toString();
    }

    private static final String CONTINUATION = "\n              ";

    /** picocli's markup ends at {@code |@}; server text must not end it early. */
    private static String escape(String text) {
        return text.replace("|@", "| @").replace("@|", "@ |");
    }
}
