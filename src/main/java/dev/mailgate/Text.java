package dev.mailgate;

/** Turning other people's multi-line messages into the one-line form Mailgate reports. */
public final class Text {

    private Text() {
    }

    /** All lines joined with single spaces; {@code ""} for {@code null}. */
    public static String oneLine(String text) {
        return text == null ? "" : text.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
    }

    /** Only the first line; {@code ""} for {@code null}. */
    public static String firstLine(String text) {
        return text == null ? "" : text.strip().lines().findFirst().orElse("");
    }
}
