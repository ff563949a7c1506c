package dev.mailgate.channel.outbox;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * Outbox file names as the file system and Java see them: the one place that knows the encoding Java names files in
 * ({@code sun.jnu.encoding}, which the locale the JVM starts in decides), how long a name may be, and how a name is
 * shortened or made representable.
 */
final class OutboxNames {

    /** The longest name a file system takes (ext4, XFS, NTFS, APFS: 255 bytes or UTF-16 units). */
    static final int NAME_MAX = 255;
    /** Java's file name encoding, by the name the JVM gives it (for log lines). */
    static final String ENCODING_NAME = System.getProperty("sun.jnu.encoding", "UTF-8");
    /** The characters of the name file systems count in: Java's own file name encoding. */
    private static final Charset ENCODING = charset();

    private OutboxNames() {
    }

    private static Charset charset() {
        try {
            return Charset.forName(ENCODING_NAME);
        } catch (RuntimeException e) {
            return StandardCharsets.UTF_8;
        }
    }

    /** How long the name is on disk, in bytes. */
    static int bytes(String name) {
        return name.getBytes(ENCODING).length;
    }

    /** {@code report.pdf} for {@code report-2.pdf}: the name {@link #free} gave a second file of that name. */
    static String withoutNumber(String name) {
        return name.replaceFirst("-\\d+(\\.[^.]*)?$", "$1");
    }

    /**
     * {@code report.pdf}, or {@code report-2.pdf} if {@code taken} says a report.pdf (or its record, {@code <name>
     * <suffix>}) is there already, and so on; shortened when the name with its record ({@code .<name><suffix>.tmp}
     * while it is written) would not fit in a file name.
     */
    static String free(String name, String suffix, Predicate<String> taken) {
        int budget = budget(suffix);
        String first = fit(name, budget);
        int dot = first.lastIndexOf('.');
        String base = dot > 0 ? first.substring(0, dot) : first;
        String ext = dot > 0 ? first.substring(dot) : "";
        String candidate = first;
        for (int n = 2; taken.test(candidate) || !suffix.isEmpty() && taken.test(candidate + suffix); n++) {
            candidate = fit(base + "-" + n + ext, budget);
        }
        return candidate;
    }

    /** Whether {@code name} fits with the record {@code suffix} as it is (else it is kept shortened). */
    static boolean fits(String name, String suffix) {
        return bytes(name) <= budget(suffix);
    }

    /** How long an outcome name may be so that it, its record and the record's temporary name all fit. */
    private static int budget(String suffix) {
        return suffix.isEmpty() ? NAME_MAX : NAME_MAX - bytes("." + suffix + ".tmp");
    }

    /**
     * The name itself when it fits in {@code budget} bytes; otherwise its start, {@code ~} and eight hex digits of a
     * hash of the whole name (different names stay different), and its extension.
     */
    static String fit(String name, int budget) {
        if (bytes(name) <= budget) {
            return name;
        }
        int dot = name.lastIndexOf('.');
        String ext = dot > 0 && name.length() - dot <= 16 ? name.substring(dot) : "";
        String hash = "~" + UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8)).toString().substring(0, 8);
        String base = name.substring(0, name.length() - ext.length());
        int room = budget - bytes(hash + ext);
        StringBuilder kept = new StringBuilder();
        for (int i = 0; i < base.length();) {
            int c = base.codePointAt(i);
            String next = new String(Character.toChars(c));
            if (bytes(kept + next) > room) {
                break;
            }
            kept.append(next);
            i += next.length();
        }
        return kept + hash + ext;
    }

    /**
     * Whether Java can open the entry under the name it listed it with. A name that is not valid in the file name
     * encoding is decoded with {@code U+FFFD} in place of what it cannot read, and that string names another file, or
     * none.
     */
    static boolean representable(Path entry) {
        String name = entry.getFileName().toString();
        if (name.indexOf('\uFFFD') < 0) {
            return true;
        }
        try {
            Path byName = entry.resolveSibling(name);
            return Files.exists(byName, LinkOption.NOFOLLOW_LINKS) && Files.isSameFile(byName, entry);
        } catch (IOException | InvalidPathException e) {
            // under the C locale U+FFFD itself cannot be encoded back
            return false;
        }
    }

    /** The name with every character Java could not decode, or cannot encode back, as {@code _}. */
    static String representableName(String name) {
        CharsetEncoder encoder = ENCODING.newEncoder();
        StringBuilder out = new StringBuilder();
        name.codePoints().forEach(c -> {
            String ch = new String(Character.toChars(c));
            out.append(c == 0xFFFD || !encoder.canEncode(ch) ? "_" : ch);
        });
        return out.toString();
    }
}
