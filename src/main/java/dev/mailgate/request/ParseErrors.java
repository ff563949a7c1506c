package dev.mailgate.request;

import java.util.regex.Pattern;

import jakarta.mail.internet.AddressException;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.io.JsonEOFException;

import dev.mailgate.text.Text;

/**
 * What is wrong with input that could not be parsed (JSON, base64, an address header), in words of our own, naming
 * the kind and the position of the error and never quoting the input: a document that cannot be parsed may be
 * anything (a file of secrets an outbox link pointed at, a password pasted into the wrong place), and what the parsers
 * say about it ({@code Unrecognized token 'xyz'}, an {@code AddressException} with the whole header) would repeat it
 * in an error file, an HTTP answer or a log line.
 */
final class ParseErrors {

    private ParseErrors() {
    }

    /**
     * What is wrong with a document that is not JSON, in words of our own: Jackson's messages quote the text they
     * stumbled on ("Unrecognized token 'xyz'"), and a document that cannot be parsed may be anything (a file of
     * secrets an outbox link pointed at, a mistyped password pasted into the wrong place), so none of it is repeated
     * in an error file, an answer or a log line. The position says where to look.
     */
    static String syntaxError(JsonProcessingException e) {
        if (e instanceof StreamConstraintsException) {
            // only sizes and Jackson's setting names, never content
            return "too large for the parser (" + Text.oneLine(e.getOriginalMessage()) + ")";
        }
        if (e instanceof JsonEOFException) {
            return "the document ends too early (a string, object or array is not closed)";
        }
        String message = String.valueOf(e.getOriginalMessage());
        for (String[] known : SYNTAX_ERRORS) {
            if (message.contains(known[0])) {
                return known[1];
            }
        }
        return "a syntax error";
    }

    /** Jackson's fixed phrases and what they mean, first match wins; everything else is "a syntax error". */
    private static final String[][] SYNTAX_ERRORS = {
        {"Unrecognized token", "a bare word where a value should be (text needs double quotes; the only bare "
                + "words JSON knows are true, false and null)"},
        {"Duplicate field", "a field name appears twice in the same object"},
        {"Trailing token", "more follows the end of the JSON value (one request per document)"},
        {"Unexpected end-of-input", "the document ends too early (a string, object or array is not closed)"},
        {"Unexpected close marker", "a closing bracket or brace does not match the one that was opened"},
        {"Illegal unquoted character", "a control character (a tab or line break) inside a string; write it as "
                + "\\t or \\n"},
        {"character escape", "a backslash escape JSON does not know (use \\\\, \\\", \\n, \\t or \\uXXXX)"},
        {"Invalid UTF-8", "bytes that are not UTF-8; save the document as UTF-8"},
        {"numeric value", "a number that is not written as JSON allows"},
        {"Non-standard token", "a number that is not written as JSON allows"},
        {"double-quote to start field name", "a field name without double quotes, or a comma before a closing "
                + "brace"},
        {"colon to separate", "a colon is missing between a field name and its value"},
        {"comma to separate", "a comma is missing between two entries"},
        {"expected a valid value", "something that is not a JSON value where a value should be"},
        {"comment", "something that is not a JSON value where a value should be (JSON has no comments)"},
    };

    /** Jakarta Mail's own fixed phrase for an address error ("Missing '>'"), never the header it came from. */
    private static final Pattern ADDRESS_ERROR = Pattern.compile("[A-Za-z][A-Za-z ,;:'()<>\\[\\]@\"-]{0,60}");

    static String addressError(AddressException e) {
        String detail = e.getMessage();
        String kind = detail != null && ADDRESS_ERROR.matcher(detail).matches()
                && (e.getRef() == null || !e.getRef().contains(detail)) ? detail : "an address syntax error";
        return kind + (e.getPos() >= 0 ? " at position " + (e.getPos() + 1) : "");
    }

    /** Where base64 text goes wrong: the first character outside the alphabet, or its length and padding. */
    static String base64Error(String content) {
        for (int i = 0; i < content.length(); i++) {
            char c = content.charAt(i);
            boolean allowed = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+'
                    || c == '/' || c == '=' || Character.isWhitespace(c);
            if (!allowed) {
                return "character " + (i + 1) + " is not one of A-Z, a-z, 0-9, + and /"
                        + (content.startsWith("data:") ? "; give the base64 text without the data:...;base64, prefix"
                                : "");
            }
        }
        return "its length or its = padding is wrong";
    }
}
