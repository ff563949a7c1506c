package dev.mailgate.request;

import java.io.IOException;
import java.io.UnsupportedEncodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeUtility;
import jakarta.mail.internet.ParseException;

import dev.mailgate.config.Settings;
import dev.mailgate.text.Text;

/**
 * The one validator every channel's requests go through before anything is rendered or sent. It applies
 * the channel's default sender and reports every problem at once, each with its field path and the fix.
 * <p>
 * Longer than most classes here on purpose: it is the one place that says what a valid request is (addresses,
 * header text, attachments, sizes, sender and recipient rules), so that no channel can check less than another.
 */
public final class MailRequestValidator {

    /** CR, LF, NUL and the Unicode line breaks: none may reach a header. */
    private static final Pattern LINE_BREAKS = Pattern.compile("[\\r\\n\\u0000\\u0085\\u2028\\u2029]");
    /** An RFC 2047 encoded word, {@code =?charset?Q?...?=} or {@code ?B?}, wherever it stands. */
    private static final Pattern ENCODED_WORD = Pattern.compile("=\\?[^?\\s]+\\?[BbQq]\\?[^?\\s]*\\?=");
    private static final Pattern CUSTOM_HEADER = Pattern.compile("X-[A-Za-z0-9][A-Za-z0-9-]{0,60}");
    private static final Pattern CONTENT_ID = Pattern.compile("[A-Za-z0-9._@$-]{1,100}");
    private static final int MAX_CUSTOM_HEADERS = 20;
    private static final int MAX_HEADER_VALUE = 900;
    private static final int MAX_IDEMPOTENCY_KEY = 200;

    private final Optional<String> defaultSender;
    private final Settings.Limits limits;
    private final Predicate<String> templateExists;
    private final Map<String, SenderRules> channels;
    private final String channel;
    private final SenderRules rules;

    /** A validator that lets any request send as anyone (no channel rules): tests and tools. */
    public MailRequestValidator(Optional<String> defaultSender, Settings.Limits limits,
            Predicate<String> templateExists) {
        this(defaultSender, limits, templateExists, Map.of(), null);
    }

    /** @param channels the sender rules of each channel ({@code outbox}, {@code jms}, {@code http}) */
    public MailRequestValidator(Optional<String> defaultSender, Settings.Limits limits,
            Predicate<String> templateExists, Map<String, SenderRules> channels) {
        this(defaultSender, limits, templateExists, channels, null);
    }

    private MailRequestValidator(Optional<String> defaultSender, Settings.Limits limits,
            Predicate<String> templateExists, Map<String, SenderRules> channels, String channel) {
        this.defaultSender = defaultSender;
        this.limits = limits;
        this.templateExists = templateExists;
        this.channels = Map.copyOf(channels);
        this.channel = channel;
        this.rules = channel == null ? SenderRules.ANYONE : channels.getOrDefault(channel, SenderRules.ANYONE);
    }

    /** The limits requests are checked against; the JSON reader takes its string limit from them. */
    public Settings.Limits limits() {
        return limits;
    }

    /**
     * The mailbox that authenticates for a request from {@code fromAddress} on this validator's channel
     * ({@code mailgate[.<channel>].authenticate-as}): itself, or a mailbox with Send As on it.
     */
    public String mailboxFor(String fromAddress) {
        return rules.mailboxFor(fromAddress);
    }

    /** The same checks, plus whom {@code channel} may send as and to. */
    public MailRequestValidator forChannel(String channel) {
        return channel.equals(this.channel) ? this
                : new MailRequestValidator(defaultSender, limits, templateExists, channels, channel);
    }

    /** A reader of one request shape, e.g. {@code () -> MailRequestReader.fromJson(in, root)}. */
    @FunctionalInterface
    public interface Read {
        MailRequest read() throws java.io.IOException;
    }

    /**
     * Reads and validates a request, reporting the reader's problems (unknown fields, wrong types) together with
     * the validator's (bad addresses, no recipients) in one exception.
     */
    public MailRequest readAndValidate(Read reader) throws java.io.IOException {
        try {
            return validate(reader.read());
        } catch (InvalidRequestException e) {
            if (e.partial() == null) {
                throw e;
            }
            List<Problem> all = new ArrayList<>(e.problems());
            try {
                validate(e.partial());
            } catch (InvalidRequestException more) {
                more.problems().stream().filter(p -> e.problems().stream().noneMatch(q -> related(p, q)))
                        .forEach(all::add);
            }
            throw new InvalidRequestException(all);
        }
    }

    /** Problems about the same field: the validator's "no recipients" adds nothing to the reader's "to: not a list". */
    private static boolean related(Problem a, Problem b) {
        String x = a.field();
        String y = b.field();
        return x.equals(y) || x.startsWith(y + "[") || x.startsWith(y + ".") || y.startsWith(x + "[")
                || y.startsWith(x + ".");
    }

    /**
     * @return the request with the default sender applied
     * @throws InvalidRequestException listing every problem
     */
    public MailRequest validate(MailRequest request) {
        List<Problem> problems = new ArrayList<>();
        String from = request.from() != null ? request.from()
                : rules.forcedSender().or(() -> defaultSender).orElse(null);
        if (from == null) {
            problems.add(new Problem("from", "no sender: set \"from\" in the request, or mailgate.sender for all "
                    + "requests"));
        } else if (address(problems, "from", from)) {
            allowedSender(problems, from);
        }
        addresses(problems, "to", request.to());
        addresses(problems, "cc", request.cc());
        addresses(problems, "bcc", request.bcc());
        allowedRecipients(problems, "to", request.to());
        allowedRecipients(problems, "cc", request.cc());
        allowedRecipients(problems, "bcc", request.bcc());
        addresses(problems, "replyTo", request.replyTo());
        int recipients = request.recipientCount();
        if (recipients == 0) {
            problems.add(new Problem("to", "no recipients: give at least one address in to, cc or bcc"));
        } else if (recipients > limits.maxRecipients()) {
            problems.add(new Problem("to", recipients + " recipients in to, cc and bcc together; at most "
                    + limits.maxRecipients() + " are allowed per message (mailgate.limits.max-recipients; Exchange "
                    + "Online's limit is 500): split the request"));
        }
        if (request.subject() != null) {
            headerSafe(problems, "subject", request.subject(), true);
        }
        if (request.idempotencyKey() != null) {
            String key = request.idempotencyKey();
            if (key.isBlank() || key.length() > MAX_IDEMPOTENCY_KEY || key.chars().anyMatch(Character::isISOControl)) {
                problems.add(new Problem("idempotencyKey", "must be 1 to " + MAX_IDEMPOTENCY_KEY + " characters "
                        + "without control characters, e.g. an order number or a UUID; leave it out if you have none"));
            }
        }
        if (request.isRaw()) {
            rawSize(problems, request);
        } else {
            body(problems, request);
            customHeaders(problems, request.headers());
            attachments(problems, request);
        }
        if (!problems.isEmpty()) {
            throw new InvalidRequestException(problems);
        }
        return from.equals(request.from()) ? request : request.withFrom(from);
    }

    private void body(List<Problem> problems, MailRequest r) {
        if (r.template() != null) {
            if (r.text() != null || r.html() != null) {
                problems.add(new Problem("template", "give either a template or text/html, not both"));
            }
            if (!templateExists.test(r.template())) {
                problems.add(new Problem("template", "unknown template '" + r.template() + "': there is no "
                        + r.template() + ".html.ftlh or " + r.template() + ".txt.ftl in the templates folder "
                        + "(mailgate.templates.dir)"));
            }
        } else if (r.text() == null && r.html() == null && r.attachments().isEmpty()) {
            problems.add(new Problem("text", "the mail has no content: give text, html, a template or an "
                    + "attachment"));
        }
    }

    private static void customHeaders(List<Problem> problems, Map<String, String> headers) {
        if (headers.size() > MAX_CUSTOM_HEADERS) {
            problems.add(new Problem("headers", headers.size() + " custom headers; at most " + MAX_CUSTOM_HEADERS));
        }
        headers.forEach((name, value) -> {
            String field = "headers." + name;
            if (!CUSTOM_HEADER.matcher(name).matches() || name.regionMatches(true, 0, "X-Mailgate-", 0, 11)) {
                problems.add(new Problem(field, "only custom X- headers may be set (letters, digits and '-', e.g. "
                        + "X-Order-Id); X-Mailgate-* is reserved. Recipients, sender and subject have their own "
                        + "fields"));
            }
            headerSafe(problems, field, value, true);
            if (value.length() > MAX_HEADER_VALUE) {
                problems.add(new Problem(field, "is " + value.length() + " characters; at most " + MAX_HEADER_VALUE));
            }
        });
    }

    private void attachments(List<Problem> problems, MailRequest r) {
        long bodies = r.text() == null ? 0 : r.text().getBytes(StandardCharsets.UTF_8).length;
        bodies += r.html() == null ? 0 : r.html().getBytes(StandardCharsets.UTF_8).length;
        // bodies as base64 too (quoted-printable is about as long for most text); attachments exactly
        long encoded = base64Size(bodies);
        boolean htmlBody = r.html() != null || r.template() != null;
        for (int i = 0; i < r.attachments().size(); i++) {
            MailRequest.Attachment a = r.attachments().get(i);
            String field = "attachments[" + i + "]";
            if (a.filename() == null || a.filename().isBlank()) {
                problems.add(new Problem(field + ".filename", "is empty; name the file, e.g. report.pdf"));
            } else {
                headerSafe(problems, field + ".filename", a.filename(), false);
                if (a.filename().contains("/") || a.filename().contains("\\")) {
                    problems.add(new Problem(field + ".filename", "'" + a.filename() + "' must be a file name "
                            + "without folders"));
                }
            }
            if (a.contentType() != null) {
                headerSafe(problems, field + ".contentType", a.contentType(), false);
                if (!a.contentType().matches("[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+")) {
                    problems.add(new Problem(field + ".contentType", "'" + a.contentType() + "' is not a media type "
                            + "such as application/pdf"));
                }
            }
            if (a.contentId() != null) {
                if (!CONTENT_ID.matcher(a.contentId()).matches()) {
                    problems.add(new Problem(field + ".contentId", "'" + a.contentId() + "' may use only letters, "
                            + "digits and . _ @ $ -; refer to it in the html as cid:" + a.contentId()));
                }
                if (!htmlBody) {
                    problems.add(new Problem(field + ".contentId", "inline images need an html body or template "
                            + "that shows them with <img src=\"cid:" + a.contentId() + "\">"));
                }
            }
            encoded += base64Size(size(a));
        }
        if (encoded > limits.maxMessageBytes()) {
            // in bytes when megabytes would print the same number twice
            boolean close = megabytes(encoded).equals(megabytes(limits.maxMessageBytes()));
            problems.add(new Problem("attachments", "the message would be "
                    + (close ? bytes(encoded) : "about " + megabytes(encoded)) + " once encoded, over the limit of "
                    + (close ? bytes(limits.maxMessageBytes()) : megabytes(limits.maxMessageBytes()))
                    + " (mailgate.limits.max-message-size; Exchange Online accepts 35 MB unless an admin raised it "
                    + "with Set-Mailbox -MaxSendSize, up to 150 MB): send fewer or smaller files, or a link"));
        }
    }

    private void rawSize(List<Problem> problems, MailRequest r) {
        try {
            long size = Files.size(r.rawMessage());
            if (size > limits.maxMessageBytes()) {
                problems.add(new Problem("(message)", "is " + megabytes(size) + ", over the limit of "
                        + megabytes(limits.maxMessageBytes()) + " (mailgate.limits.max-message-size)"));
            }
        } catch (IOException e) {
            problems.add(new Problem("(message)", "cannot be read (" + e.getClass().getSimpleName() + ")"));
        }
    }

    private static long size(MailRequest.Attachment a) {
        if (a.content() != null) {
            return a.content().length;
        }
        try {
            return Files.size(a.file());
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * What {@code bytes} become in a MIME part: base64 (4 characters for every 3 bytes), in lines of 76 characters
     * each ending with CRLF, as Jakarta Mail writes them (ignoring the lines would underestimate by 2.6 %).
     */
    static long base64Size(long bytes) {
        long characters = (bytes + 2) / 3 * 4;
        long lines = (characters + 75) / 76;
        return characters + 2 * lines;
    }

    private static String bytes(long bytes) {
        return String.format(java.util.Locale.ROOT, "%,d bytes", bytes);
    }

    private static String megabytes(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f MB", bytes / (1024.0 * 1024.0));
    }

    private static void addresses(List<Problem> problems, String field, List<String> values) {
        for (int i = 0; i < values.size(); i++) {
            address(problems, field + "[" + i + "]", values.get(i));
        }
    }

    /** The sender may be used by this channel (after it was found to be an address). */
    private void allowedSender(List<Problem> problems, String from) {
        String address = bareAddress(from);
        if (address != null && !rules.mayUseSender(address)) {
            problems.add(new Problem("from", rules.forcedSender()
                    .map(f -> "'" + address + "' may not send through the " + channel + " channel, which sends only as "
                            + f + " (" + channel("forced-sender") + "); leave \"from\" out or set it to " + f)
                    .orElse("'" + address + "' may not send through the " + channel + " channel; allowed senders: "
                            + String.join(", ", rules.allowedSenders()) + " (" + channel("allowed-senders")
                            + " or mailgate.allowed-senders); send as one of them, or add it there if this "
                            + "channel's users may send as it")));
        }
    }

    private void allowedRecipients(List<Problem> problems, String field, List<String> values) {
        for (int i = 0; i < values.size(); i++) {
            if (Text.firstControl(values.get(i), false) >= 0) {
                // refused as an address already; its text is not repeated in a second message
                continue;
            }
            String address = bareAddress(values.get(i));
            if (address != null && address.indexOf('@') > 0 && !rules.mayReach(address)) {
                problems.add(new Problem(field + "[" + i + "]", "'" + address + "' is outside the domains this "
                        + "channel may send to: " + String.join(", ", rules.allowedRecipientDomains()) + " ("
                        + channel("allowed-recipient-domains") + " or mailgate.allowed-recipient-domains)"));
            }
        }
    }

    private String channel(String key) {
        return "mailgate." + channel + "." + key;
    }

    /** The address part of {@code "Name" <a@b>}, or {@code null} when it is not one. */
    private static String bareAddress(String value) {
        try {
            return new InternetAddress(value, false).getAddress();
        } catch (AddressException e) {
            return null;
        }
    }

    /**
     * Adds a problem unless {@code value} is one mailbox address; returns whether it is. No control character may be
     * anywhere in it: a quoted local part ({@code "x\u0001auth=Bearer evil"@example.com}) is valid RFC 5322, but the
     * address becomes the SASL XOAUTH2 {@code user=} (where {@code \x01} separates fields), the {@code RCPT TO}
     * line and a header. The error names the character by its code, never writing it.
     */
    private static boolean address(List<Problem> problems, String field, String value) {
        Matcher lineBreak = LINE_BREAKS.matcher(value);
        if (lineBreak.find()) {
            problems.add(new Problem(field, "contains a line break or NUL (" + Text.code(lineBreak.group().charAt(0))
                    + "); an address is one line"));
            return false;
        }
        int control = Text.firstControl(value, false);
        if (control >= 0) {
            problems.add(new Problem(field, "contains the control character " + Text.code(control) + "; an address "
                    + "may not contain control characters (TAB included) anywhere, not in quotes or in a display name "
                    + "either: remove it"));
            return false;
        }
        Optional<String> encoded = encodedWordProblem(value, false);
        if (encoded.isPresent()) {
            // a display name =?utf-8?q?Alice=0D=0ABcc:...?= is decoded by the recipient's client
            problems.add(new Problem(field, encoded.get()));
            return false;
        }
        try {
            InternetAddress parsed = new InternetAddress(value, true);
            if (parsed.isGroup()) {
                problems.add(new Problem(field, "'" + value + "' is a group; list its addresses one by one"));
                return false;
            }
            parsed.validate();
            String addr = parsed.getAddress();
            if (addr == null || addr.indexOf('@') < 1 || addr.endsWith("@")) {
                throw new AddressException("missing domain");
            }
            return true;
        } catch (AddressException e) {
            problems.add(new Problem(field, "'" + value + "' is not an email address (write name@example.com or "
                    + "\"Name\" <name@example.com>)"));
            return false;
        }
    }

    /**
     * Header text (a subject, a custom header value: {@code tabAllowed}; a file name, a media type: not) holds no
     * line break, no other control character, and no RFC 2047 encoded word that decodes to one.
     */
    private static void headerSafe(List<Problem> problems, String field, String value, boolean tabAllowed) {
        headerTextProblem(value, tabAllowed).ifPresent(why -> problems.add(new Problem(field, why)));
    }

    /**
     * Why {@code value} cannot be header text, if it cannot: a line break, another control character (TAB only where
     * {@code tabAllowed}), or an encoded word that decodes to one. Also for text made after validation, such as a
     * subject rendered from a template.
     */
    public static Optional<String> headerTextProblem(String value, boolean tabAllowed) {
        Matcher lineBreak = LINE_BREAKS.matcher(value);
        if (lineBreak.find()) {
            return Optional.of("contains a line break or NUL character (" + Text.code(lineBreak.group().charAt(0))
                    + "), which could inject mail headers; remove it");
        }
        int control = Text.firstControl(value, tabAllowed);
        if (control >= 0) {
            return Optional.of("contains the control character " + Text.code(control) + ", which mail clients show or "
                    + "act on; remove it" + (tabAllowed ? " (TAB is allowed)" : ""));
        }
        return encodedWordProblem(value, tabAllowed);
    }

    /**
     * Why an RFC 2047 encoded word in {@code value} must not be sent, if one must not. Encoded words are ASCII, so
     * Mailgate leaves them as they are and the mail client decodes them: {@code =?utf-8?q?x=0D=0ABcc:...?=} becomes a
     * line break in the subject it shows, files or forwards. Every word is decoded, also one inside other text (strict
     * decoding would skip it, lenient clients do not); one in a charset Java does not know, or that does not decode,
     * is refused rather than guessed at.
     */
    static Optional<String> encodedWordProblem(String value, boolean tabAllowed) {
        Matcher words = ENCODED_WORD.matcher(value);
        while (words.find()) {
            String decoded;
            try {
                decoded = MimeUtility.decodeWord(words.group());
            } catch (ParseException | UnsupportedEncodingException e) {
                return Optional.of("contains an RFC 2047 encoded word (=?charset?Q/B?...?=) that cannot be decoded; "
                        + "write the text itself (Mailgate encodes non-ASCII text as needed)");
            }
            int control = Text.firstControl(decoded, tabAllowed);
            if (control >= 0) {
                return Optional.of("contains an RFC 2047 encoded word that decodes to the control character "
                        + Text.code(control) + ", which mail clients would show or act on (a line break can add a "
                        + "header); write the text itself without it");
            }
        }
        return Optional.empty();
    }
}
