package dev.mailgate;

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

    /** Only the first line; {@code ""} for {@code null}. */
    public static String firstLine(String text) {
        return text == null ? "" : text.strip().lines().findFirst().orElse("");
    }
}
