package dev.mailgate.config;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The folders whose files other local users must not read: {@code data/} (the broker journal with whole messages,
 * Bcc addresses included, the delivery journal, the sandbox's .eml files, uploads, generated secrets) and the broker,
 * upload and sandbox folders when they are configured elsewhere. The libraries that write there (Artemis, H2, Vert.x)
 * create their files under the process' umask, 0644 with the usual 022; a folder only its owner may enter keeps them
 * out of reach whatever their own mode. So: created as 0700, and an existing one with any group or other bit is
 * tightened to 0700, with one log line. Only where the file system has POSIX permissions (elsewhere its own ACLs
 * apply); a journal database configured outside {@code data/} ({@code mailgate.journal.url}) is not touched: its
 * folder may be shared with other things.
 */
public final class PrivateFolders {

    private static final Logger LOG = LoggerFactory.getLogger(PrivateFolders.class);
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    private PrivateFolders() {
    }

    /** Creates {@code dir} (and missing parents) owner-only, or makes an existing one so; {@code key}: its setting. */
    public static void create(Path dir, String key) throws IOException {
        create(dir, key, false);
    }

    /**
     * As {@link #create(Path, String)}, but an existing folder keeps its group's permissions when {@code groupMayShare}:
     * JMS producers running as other users of one group may be meant to write attachments into
     * {@code mailgate.jms.attachments-dir} when it is configured outside {@code data/}. Other users lose theirs.
     */
    public static void create(Path dir, String key, boolean groupMayShare) throws IOException {
        if (!Files.exists(dir)) {
            if (posix(dir)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            } else {
                Files.createDirectories(dir);
            }
            return;
        }
        if (!posix(dir)) {
            return;
        }
        Set<PosixFilePermission> now = Files.getPosixFilePermissions(dir);
        Set<PosixFilePermission> wanted = EnumSet.copyOf(now);
        wanted.removeIf(p -> groupMayShare ? p.name().startsWith("OTHERS_") : !p.name().startsWith("OWNER_"));
        if (wanted.equals(now)) {
            return;
        }
        try {
            Files.setPosixFilePermissions(dir, wanted);
            LOG.warn("Made {} ({}) {}: it was {}, now {}, since it holds messages, Bcc addresses and secrets that "
                    + "other users of this machine must not read", dir.toAbsolutePath(), key,
                    groupMayShare ? "closed to other users" : "owner-only", PosixFilePermissions.toString(now),
                    PosixFilePermissions.toString(wanted));
        } catch (IOException | UnsupportedOperationException e) {
            LOG.warn("{} ({}) is {} and could not be made owner-only ({}): other users of this machine may read the "
                    + "messages in it; run chmod 700 {} as its owner", dir.toAbsolutePath(), key,
                    PosixFilePermissions.toString(now), e.getClass().getSimpleName(), dir.toAbsolutePath());
        }
    }

    /** Whether the file store of {@code dir} (or of its nearest existing parent) has POSIX permissions. */
    private static boolean posix(Path dir) throws IOException {
        Path existing = dir.toAbsolutePath();
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return false;
        }
        FileStore store = Files.getFileStore(existing);
        return store.supportsFileAttributeView(PosixFileAttributeView.class);
    }
}
