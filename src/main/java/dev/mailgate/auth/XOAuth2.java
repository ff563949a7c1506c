package dev.mailgate.auth;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.mailgate.text.Text;

/**
 * SASL XOAUTH2 as Mailgate speaks it and checks it, in one place: the response and its encoding, the two forms of
 * sending it and when to fall back from one to the other, the two-line dialogue, and the parsing the sandbox server
 * does. The gateway's sender ({@code XOAuth2MailSender}, behind camel-mail and {@code mailgate send}), the doctor and
 * the sandbox all use this class.
 */
public final class XOAuth2 {

    /** Neither the user nor the token may hold a control character (C0, DEL, C1): {@code \x01} separates the fields. */
    private static final Pattern RESPONSE = Pattern.compile(
            "user=([^\\x00-\\x1F\\x7F-\\x9F]+)\\x01auth=Bearer ([^\\x00-\\x1F\\x7F-\\x9F]+)\\x01\\x01");

    private XOAuth2() {
    }

    /**
     * How the response is sent ({@code mailgate.smtp.xoauth2-form}): on the {@code AUTH} line itself (what Exchange
     * Online and Jakarta Mail do), or on a line of its own after {@code 334}; {@code auto} starts with the first and
     * falls back to the second for a server that refuses the long line.
     */
    public enum Form {
        AUTO, INITIAL_RESPONSE, TWO_LINE;

        /** {@code auto}, {@code initial-response}, {@code two-line} (the setting's values). */
        public static Form of(String setting) {
            return valueOf(setting.toUpperCase(Locale.ROOT).replace('-', '_'));
        }

        /** Whether the first try uses the two-line form, given whether this server refused the AUTH line before. */
        public boolean startsTwoLine(boolean serverRefusedTheLine) {
            return this == TWO_LINE || this == AUTO && serverRefusedTheLine;
        }

        /**
         * Whether a reply to the AUTH line that carries the response means: send it on a line of its own instead.
         * {@code 500}/{@code 501} say the line was too long or not understood, which is not about the token.
         */
        public boolean fallsBackOn(int code) {
            return this == AUTO && refusesTheLine(code);
        }
    }

    /** {@code 500}/{@code 501} to the AUTH line: the line (its length), not the token, was refused. */
    public static boolean refusesTheLine(int code) {
        return code == 500 || code == 501;
    }

    /**
     * The SASL XOAUTH2 response {@code user=<mailbox>\x01auth=Bearer <token>\x01\x01}, before base64. {@code \x01}
     * separates its fields, so a user (or token) holding one could end {@code user=} and start an {@code auth=} of its
     * own; no control character of any kind may be in either. The validator refuses such addresses first; this is
     * the second line of defence for whatever reaches a sender.
     *
     * @throws IllegalArgumentException naming the character (and never showing the token)
     */
    public static String response(String user, String token) {
        checkUser(user);
        if (token == null || token.isEmpty() || Text.firstControl(token, false) >= 0) {
            throw new IllegalArgumentException("the access token is empty or contains a control character "
                    + (token == null || token.isEmpty() ? "" : Text.code(Text.firstControl(token, false)))
                    + "; it cannot be sent in SASL XOAUTH2");
        }
        return "user=" + user + "\u0001auth=Bearer " + token + "\u0001\u0001";
    }

    /** {@link #response} in base64, as it goes on the wire. */
    public static String encoded(String user, String token) {
        return Base64.getEncoder().encodeToString(response(user, token).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Refuses a mailbox that cannot be the XOAUTH2 {@code user=}: empty, or with a control character. Angus Mail builds
     * the response itself for the initial-response form, so the sender checks the mailbox with this first.
     *
     * @throws IllegalArgumentException naming the character by its code
     */
    public static void checkUser(String user) {
        if (user == null || user.isEmpty()) {
            throw new IllegalArgumentException("the mailbox to authenticate as is empty");
        }
        int control = Text.firstControl(user, false);
        if (control >= 0) {
            throw new IllegalArgumentException("the mailbox to authenticate as contains the control character "
                    + Text.code(control) + ", which SASL XOAUTH2 cannot carry in user= (\\x01 separates its fields)");
        }
    }

    /** The user and token of a decoded response in exactly the layout {@link #response} writes, else empty. */
    public static Optional<Credentials> parse(String response) {
        Matcher m = RESPONSE.matcher(response);
        return m.matches() ? Optional.of(new Credentials(m.group(1), m.group(2))) : Optional.empty();
    }

    /** What a response carries. */
    public record Credentials(String user, String token) {
    }

    /** A server's reply: its code and its (first) line. */
    public record Reply(int code, String line) {
    }

    /** One command line to the server and its reply, as the caller's connection sends it. */
    @FunctionalInterface
    public interface Lines<E extends Exception> {
        /** @param carriesToken the line holds the response: it must not be traced or shown */
        Reply send(String line, boolean carriesToken) throws E;
    }

    /**
     * The two-line form: {@code AUTH XOAUTH2}, {@code 334}, the response on its own line; then {@link #finish}.
     */
    public static <E extends Exception> Reply twoLine(Lines<E> server, String encoded) throws E {
        Reply reply = server.send("AUTH XOAUTH2", false);
        return finish(server, reply.code() == 334 ? server.send(encoded, true) : reply);
    }

    /** The initial-response form: {@code AUTH XOAUTH2 <response>}; then {@link #finish}. */
    public static <E extends Exception> Reply initialResponse(Lines<E> server, String encoded) throws E {
        return finish(server, server.send("AUTH XOAUTH2 " + encoded, true));
    }

    /**
     * A refusal that comes as a challenge ({@code 334} with a base64 JSON error, as Gmail does): an empty line ends
     * the exchange, and the server answers with its final reply.
     */
    public static <E extends Exception> Reply finish(Lines<E> server, Reply reply) throws E {
        return reply.code() == 334 ? server.send("", false) : reply;
    }
}
