package dev.mailgate.channel.outbox;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;

import org.apache.camel.Processor;
import org.apache.camel.RouteTemplateContext;
import org.apache.camel.builder.RouteBuilder;

import dev.mailgate.config.Settings;
import dev.mailgate.policy.DeliveryPolicy;
import dev.mailgate.request.MailRequestReader;

/**
 * The outbox channel as two route templates, instantiated from {@code routes/*.yaml}:
 * <ul>
 * <li>{@value #REQUESTS}: {@code *.json} MailRequests and {@code *.eml} messages in a folder;</li>
 * <li>{@value #FILES}: any other files (PDFs from a scanner, reports) in a folder, each sent as the
 * attachment of a mail whose recipients, subject and template the route gives.</li>
 * </ul>
 * A file is taken only once it has not been modified for {@code mailgate.outbox.settle-time}; afterwards it
 * is in exactly one of {@code .sent/} (with a receipt) or {@code .failed/} (with an error file), or still
 * waiting in the folder.
 */
public final class OutboxRoutes extends RouteBuilder {

    public static final String REQUESTS = "mailgate-outbox";
    public static final String FILES = "mailgate-outbox-files";

    private final OutboxChannel channel;
    private final Settings.Outbox outbox;
    private final OutboxWatch watch;

    public OutboxRoutes(OutboxChannel channel, Settings.Outbox outbox, OutboxWatch watch) {
        this.channel = channel;
        this.outbox = outbox;
        this.watch = watch;
    }

    @Override
    public void configure() {
        // one bean for every folder route (a template-local bean cannot be referred to from the endpoint URI)
        getContext().getRegistry().bind(OutboxWatch.BEAN, watch);
        routeTemplate(REQUESTS)
                .templateParameter("folder", null, "the folder to watch for *.json and *.eml requests")
                .from(folder("{{folder}}", "json,eml"))
                .routeConfigurationId(DeliveryPolicy.ID)
                .process(watch::taking)
                .process(channel::readRequest);

        routeTemplate(FILES)
                .templateParameter("folder", null, "the folder to watch")
                .templateParameter("extensions", "pdf", "comma-separated file extensions to send, e.g. pdf,tif")
                .templateParameter("to", null, "comma-separated recipients")
                .templateOptionalParameter("cc", "comma-separated Cc recipients")
                .templateOptionalParameter("bcc", "comma-separated Bcc recipients")
                .templateOptionalParameter("from", "the sender; default mailgate.sender")
                .templateOptionalParameter("subject", "FreeMarker text, e.g. Invoice ${file.baseName}")
                .templateOptionalParameter("text", "the body text when no template is given")
                .templateOptionalParameter("template", "a template from the templates folder")
                .templateBean("mailgateReadFile", Processor.class,
                        context -> channel.fileReader(text(context, "folder"), fileMail(context)))
                .from(folder("{{folder}}", "{{extensions}}"))
                .routeConfigurationId(DeliveryPolicy.ID)
                .process(watch::taking)
                .process("mailgateReadFile");
    }

    private String folder(String folder, String extensions) {
        long settle = outbox.settleTime().toMillis();
        long check = Math.max(50, Math.min(1000, settle / 2));
        long lockTimeout = Math.max(10_000, settle * 5);
        return "file:" + folder
                + "?includeExt=" + extensions
                + "&readLock=changed"
                + "&readLockCheckInterval=" + check
                + "&readLockMinAge=" + settle
                + "&readLockMinLength=0"
                + "&readLockTimeout=" + lockTimeout
                + "&delay=" + outbox.pollInterval().toMillis()
                // look at the folder as soon as the route starts, not after Camel's default second: readiness
                // waits for every consumer's first poll, and files already waiting are taken a second earlier
                + "&initialDelay=0"
                + "&sortBy=file:modified"
                // no <name>.camelLock next to each file: Mailgate is the folder's only consumer, and a marker's
                // longer name failed for every file name over 245 bytes, with a stack trace at every poll
                + "&readLockMarkerFile=false"
                // the OutboxChannel moves each file to .sent/ or .failed/ itself, under a name nothing else uses;
                // a file it could not move is not taken again until it is changed (or touched) or Mailgate restarts.
                // The key names the file itself (inode and change time): a new file with the same name, size and
                // modification time (cp -p, a second-granular file system) is another file and is taken
                + "&noop=true"
                + "&idempotentKey=${file:name}-${file:size}-${file:modified}-${bean:" + OutboxWatch.BEAN
                        + "?method=identity}"
                // refuses what is not a plain file before Camel lists the folder (OutboxWatch)
                + "&pollStrategy=#" + OutboxWatch.BEAN
                + "&filter=#" + OutboxWatch.BEAN;
    }

    private static MailRequestReader.FileMail fileMail(RouteTemplateContext context) {
        return new MailRequestReader.FileMail(
                text(context, "from"), list(context, "to"), list(context, "cc"), list(context, "bcc"),
                text(context, "subject"), text(context, "text"), text(context, "template"), Map.of());
    }

    /** A parameter with its {@code {{property}}} placeholders resolved, as they are in the endpoint URI. */
    private static String text(RouteTemplateContext context, String name) {
        Object value = context.getProperty(name);
        if (value == null || value.toString().isBlank()) {
            return null;
        }
        return context.getCamelContext().resolvePropertyPlaceholders(value.toString()).trim();
    }

    private static List<String> list(RouteTemplateContext context, String name) {
        String value = text(context, name);
        if (value == null) {
            return List.of();
        }
        try {
            return Arrays.stream(InternetAddress.parse(value, false)).map(InternetAddress::toUnicodeString).toList();
        } catch (AddressException e) {
            // leave it to the validator to say which one is wrong
            return Arrays.stream(value.split("[,;]")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        }
    }
}
