package dev.mailgate.text;

/** Turning other people's multi-line messages into the one-line form Mailgate reports. */
public final class Text {

    private Text() {
    }

    /** All lines joined with single spaces; {@code ""} for {@code null}. */
    public static String oneLine(String text) {
        return text == null ? "" : text.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
    }

    /**
     * Line breaks, NUL and other control characters shown as escapes ({@code \n}, {@code \u2028}), so that a value
     * someone else chose (a file name, a rejected header) cannot forge a line of the log; {@code null} stays
     * {@code null}.
     */
    public static String printable(String text) {
        if (text == null) {
            return null;
        }
        StringBuilder out = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            switch (c) {
                case '\r' -> out.append("\\r");
                case '\n' -> out.append("\\n");
                case '\t' -> out.append(' ');
                default -> {
                    if (Character.isISOControl(c) || c == 0x2028 || c == 0x2029) {
                        out.append(String.format("\\u%04x", c));
                    } else {
                        out.appendCodePoint(c);
                    }
                }
            }
        });
        return out.toString();
    }

    /**
     * The first control character in {@code text}: C0 (U+0000 to U+001F, TAB only when {@code tabAllowed} is false),
     * DEL, C1 (U+0080 to U+009F) and the Unicode line and paragraph separators; {@code -1} when there is none or
     * {@code text} is {@code null}.
     */
    public static int firstControl(String text, boolean tabAllowed) {
        if (text == null) {
            return -1;
        }
        return text.codePoints().filter(c -> (Character.isISOControl(c) || c == 0x2028 || c == 0x2029)
                && !(tabAllowed && c == '\t')).findFirst().orElse(-1);
    }

    /** A character by its code, {@code U+0001}: how an error names a control character without writing it. */
    public static String code(int c) {
        return String.format(java.util.Locale.ROOT, "U+%04X", c);
    }

    /** Only the first line; {@code ""} for {@code null}. */
    public static String firstLine(String text) {
        return text == null ? "" : text.strip().lines().findFirst().orElse("");
    }
}
