package dev.mailgate.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.apache.camel.impl.DefaultCamelContext;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import dev.mailgate.auth.TokenCache;
import dev.mailgate.auth.XOAuth2;
import dev.mailgate.auth.XOAuth2Authenticator;
import dev.mailgate.compose.MimeComposer;
import dev.mailgate.compose.OutgoingMessage;
import dev.mailgate.config.Settings;
import dev.mailgate.config.TrustStores;
import dev.mailgate.outcome.Failure;
import dev.mailgate.policy.FailureClassifier;
import dev.mailgate.render.TemplateRenderer;
import dev.mailgate.request.AttachmentRoot;
import dev.mailgate.request.InvalidRequestException;
import dev.mailgate.request.MailRequest;
import dev.mailgate.request.MailRequestReader;
import dev.mailgate.request.MailRequestValidator;
import dev.mailgate.request.Problem;
import dev.mailgate.request.SenderRules;
import dev.mailgate.transport.ProxyTunnel;
import dev.mailgate.transport.SmtpEndpoint;
import dev.mailgate.transport.XOAuth2MailSender;

/**
 * {@code mailgate send}: one mail, now, through the same validator, composer and {@code smtp} endpoint as the
 * gateway, with an exit code a script can act on. Nothing is queued: a failure is reported, not retried.
 */
@Command(name = "send", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class, sortOptions = false,
        description = {"Send one mail now, from flags or from a MailRequest file (.json or .eml), and exit with a "
                + "sysexits code, so that scripts can use it instead of sendmail.",
                "Nothing is queued: when sending fails the exit code says whether trying again later can help (75)."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:sent: the server accepted the message", "64:the command line is wrong",
                "65:the request is invalid (each problem is named)", "66:a file named does not exist",
                "67:the server refused a recipient", "69:the server refused the message for good",
                "75:a temporary failure (server busy, network, Entra ID unreachable): try again later",
                "77:authentication refused: the app may not send as this mailbox (run mailgate doctor)",
                "78:a setting is wrong"})
final class SendCommand extends OneShotCommand implements Callable<Integer> {

    @Option(names = {"-f", "--from"}, paramLabel = "ADDRESS", description = "Sender (default: mailgate.sender).")
    String from;

    // no -t: sendmail's -t means "recipients from the message's headers", and a script ported from it must not
    // silently mean something else here
    @Option(names = "--to", paramLabel = "ADDRESS", split = ",", description = "Recipient (repeatable, or "
            + "comma-separated).")
    List<String> to = new ArrayList<>();

    @Option(names = "--cc", paramLabel = "ADDRESS", split = ",", description = "Copy recipient.")
    List<String> cc = new ArrayList<>();

    @Option(names = "--bcc", paramLabel = "ADDRESS", split = ",", description = "Blind copy recipient.")
    List<String> bcc = new ArrayList<>();

    @Option(names = {"-s", "--subject"}, paramLabel = "TEXT", description = "Subject.")
    String subject;

    @ArgGroup(exclusive = true)
    Body body;

    static final class Body {
        @Option(names = {"-b", "--body"}, paramLabel = "TEXT", description = "Plain-text body.")
        String text;

        @Option(names = "--body-file", paramLabel = "FILE", description = "Plain-text body from FILE ('-': standard "
                + "input).")
        String file;
    }

    @Option(names = "--html-file", paramLabel = "FILE", description = "HTML body from FILE.")
    Path html;

    @Option(names = {"-a", "--attach"}, paramLabel = "FILE", description = "Attach FILE (repeatable).")
    List<Path> attachments = new ArrayList<>();

    @Option(names = {"-r", "--request"}, paramLabel = "FILE", description = "Send the MailRequest in FILE: a .json "
            + "request (attachment paths relative to its folder) or a complete .eml message. Flags above may not "
            + "be combined with it.")
    Path request;

    @Option(names = "--json", description = "Print the receipt (or the failure) as JSON.")
    boolean json;



    @Override
    public Integer call() throws Exception {
        Logs.forCommand(verbose);
        if (request != null && (!to.isEmpty() || !cc.isEmpty() || !bcc.isEmpty() || subject != null || body != null
                || html != null || !attachments.isEmpty())) {
            return usage("--request takes the whole mail from its file; leave out --to/--cc/--bcc/--subject/--body/"
                    + "--html-file/--attach");
        }
        if (request == null && to.isEmpty() && cc.isEmpty() && bcc.isEmpty()) {
            return usage("say whom to send to: --to ADDRESS (or --request FILE)");
        }
        try (Target target = Target.open(settings())) {
            Settings settings = target.settings;
            TemplateRenderer renderer = new TemplateRenderer(settings.templatesDir());
            Settings.Senders senders = settings.senders().get("cli");
            MailRequestValidator validator = new MailRequestValidator(settings.sender(), settings.limits(),
                    renderer::exists, Map.of("cli", SenderRules.of(senders))).forChannel("cli");
            MailRequest mail;
            try {
                mail = validator.readAndValidate(() -> read(settings.limits().maxMessageBytes()));
            } catch (MissingFile e) {
                return failed(ExitCodes.NOINPUT, e.getMessage(), "check the path", null);
            } catch (InvalidRequestException e) {
                return invalid(e.problems());
            }
            String id = UUID.randomUUID().toString();
            OutgoingMessage message = new MimeComposer(renderer).compose(mail, id,
                    validator.mailboxFor(new jakarta.mail.internet.InternetAddress(mail.from()).getAddress()));
            try (message) {
                send(target, message);
            } catch (Exception e) {
                Failure failure = new FailureClassifier().classify(e);
                if (failure.category() == Failure.Category.INVALID_REQUEST) {
                    return invalid(failure.problems());
                }
                return failed(exitCode(failure, e), failure.reason(), failure.advice(), failure);
            }
            return sent(target, message);
        }
    }

    private MailRequest read(long maxMessageBytes) throws IOException {
        if (request != null) {
            if (!Files.isRegularFile(request)) {
                throw new MissingFile(request + " does not exist or is not a file (--request)");
            }
            if (request.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".eml")) {
                // the user's own file, named on the command line: a link of theirs is followed
                return MailRequestReader.fromEml(request.toRealPath());
            }
            Path folder = request.toAbsolutePath().getParent();
            try (InputStream in = Files.newInputStream(request)) {
                return MailRequestReader.fromJson(in, new AttachmentRoot(folder, "the request file's folder"),
                        maxMessageBytes);
            }
        }
        List<MailRequest.Attachment> files = new ArrayList<>();
        for (Path file : attachments) {
            if (!Files.isRegularFile(file)) {
                throw new MissingFile(file + " does not exist or is not a file (--attach)");
            }
            files.add(MailRequest.Attachment.ofFile(file.toRealPath(), file.getFileName().toString(), null, null));
        }
        String text = body == null ? null : body.text != null ? body.text : readBody(body.file);
        String htmlBody = html == null ? null : readFile(html, "--html-file");
        return new MailRequest(from, to, cc, bcc, List.of(), subject, text, htmlBody, null, Map.of(), files, Map.of(),
                MailRequest.Priority.NORMAL, null, null);
    }

    private String readBody(String file) throws IOException {
        if (file.equals("-")) {
            return new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        }
        return readFile(Path.of(file), "--body-file");
    }

    private static String readFile(Path file, String option) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new MissingFile(file + " does not exist or is not a file (" + option + ")");
        }
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    /** Through camel-mail's smtp endpoint with Mailgate's authenticator and sender, as the gateway sends. */
    private static void send(Target target, OutgoingMessage message) throws Exception {
        Settings settings = target.settings;
        ExecutorService refresher = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "mailgate-token");
            t.setDaemon(true);
            return t;
        });
        try (DefaultCamelContext context = new DefaultCamelContext()) {
            TokenCache tokens = TokenCache.of(target.tokenSource(), settings, refresher);
            context.getRegistry().bind(SmtpEndpoint.AUTHENTICATOR_BEAN, new XOAuth2Authenticator(tokens,
                    settings.sender().orElse(message.mailbox())));
            XOAuth2MailSender sender = new XOAuth2MailSender()
                    .form(XOAuth2.Form.of(settings.smtp().xoauth2Form()));
            settings.smtp().proxy().ifPresent(proxy -> sender.proxy(new ProxyTunnel(proxy,
                    settings.smtp().connectTimeout())));
            context.getRegistry().bind(SmtpEndpoint.SENDER_BEAN, sender);
            target.trust.ifPresent(t -> context.getRegistry().bind(SmtpEndpoint.TLS_BEAN, TrustStores.parameters(t)));
            context.start();
            context.createProducerTemplate().requestBody(SmtpEndpoint.uri(settings.smtp(), target.trust.isPresent()),
                    message);
        } finally {
            refresher.shutdownNow();
        }
    }

    private int sent(Target target, OutgoingMessage message) throws Exception {
        Settings.Smtp smtp = target.settings.smtp();
        String server = smtp.host() + ":" + smtp.port();
        int recipients = message.getAllRecipients().length;
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> receipt = new LinkedHashMap<>();
            receipt.put("status", "sent");
            receipt.put("id", message.id());
            receipt.put("messageId", message.getMessageID());
            receipt.put("mailbox", message.mailbox());
            receipt.put("recipients", recipients);
            receipt.put("server", server);
            receipt.put("serverReply", message.serverReply());
            receipt.put("sandbox", target.sandbox());
            out.println(json(receipt));
        } else {
            out.println("Sent " + message.getMessageID() + " as " + message.mailbox() + " to " + recipients
                    + " recipient(s) via " + server + ": " + message.serverReply());
            if (target.sandbox()) {
                out.println("SANDBOX: delivered to the embedded test server and stored in "
                        + target.settings.sandboxDir() + "; nothing left this machine.");
            }
        }
        return ExitCodes.OK;
    }

    private int invalid(List<Problem> problems) throws Exception {
        if (json) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("status", "invalid");
            body.put("errors", problems.stream().map(p -> Map.of("field", p.field(), "message", p.message()))
                    .toList());
            spec.commandLine().getOut().println(json(body));
        } else {
            PrintWriter err = spec.commandLine().getErr();
            err.println("Not sent: the request is invalid");
            problems.forEach(p -> err.println("  " + p.field() + ": " + p.message()));
        }
        return ExitCodes.DATAERR;
    }

    private int failed(int code, String reason, String fix, Failure failure) throws Exception {
        if (json) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("status", "failed");
            body.put("category", failure == null ? "input" : failure.category().label());
            body.put("reason", reason);
            body.put("fix", fix);
            body.put("serverReply", failure == null ? null : failure.serverReply());
            body.put("exitCode", code);
            spec.commandLine().getOut().println(json(body));
        } else {
            PrintWriter err = spec.commandLine().getErr();
            err.println("Not sent: " + reason + (failure != null && failure.serverReply() != null
                    && !reason.contains(failure.serverReply()) ? " (" + failure.serverReply() + ")" : ""));
            err.println("  fix: " + fix);
            if (code == ExitCodes.TEMPFAIL) {
                err.println("  this is temporary: trying again later can succeed");
            }
        }
        return code;
    }

    private int usage(String message) {
        spec.commandLine().getErr().println(message);
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCodes.USAGE;
    }

    /** The sysexits code for a failed send, from its classified failure and the exception behind it. */
    static int exitCode(Failure failure, Throwable error) {
        for (Throwable e = error; e != null; e = e.getCause()) {
            if (e instanceof dev.mailgate.auth.TokenException token) {
                // Entra ID refused the app's credential: a setting (the secret, the ids), not the mailbox
                return token.kind() == dev.mailgate.auth.TokenException.Kind.REJECTED ? ExitCodes.CONFIG
                        : ExitCodes.TEMPFAIL;
            }
        }
        String reply = failure.serverReply();
        int code = reply != null && reply.matches("\\d{3}\\b.*") ? Integer.parseInt(reply.substring(0, 3)) : 0;
        if (FailureClassifier.sendAsDenied(reply)) {
            // the app may not send as this mailbox: a permission, as an authentication refusal is
            return ExitCodes.NOPERM;
        }
        return switch (failure.category()) {
            case INVALID_REQUEST -> ExitCodes.DATAERR;
            // a full sending mailbox: try again once it has room
            case TRANSIENT, QUOTA, MAILBOX_FULL -> ExitCodes.TEMPFAIL;
            case AUTH, SENDER_BLOCKED -> ExitCodes.NOPERM;
            case CONFIGURATION -> ExitCodes.CONFIG;
            case PERMANENT -> FailureClassifier.recipientRefused(code, reply) ? ExitCodes.NOUSER
                    : ExitCodes.UNAVAILABLE;
        };
    }

    private static final class MissingFile extends IOException {
        MissingFile(String message) {
            super(message);
        }
    }
}
