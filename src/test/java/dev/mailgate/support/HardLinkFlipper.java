package dev.mailgate.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.concurrent.locks.LockSupport;

/**
 * The hard-link race as someone who may write to the outbox runs it: puts a new plain file holding {@code inside}
 * at {@code target}, then a second name of {@code secret} (a hard link), each by an atomic rename, with a pause of
 * 0.2 ms after each, until closed. Both have the same length and modification time, so the file consumer's read lock
 * sees one file that does not change.
 */
public final class HardLinkFlipper extends Flipper {

    private final Path target;
    private final String inside;
    private final Path secret;
    private final FileTime time = FileTime.from(Instant.now().minusSeconds(60));
    private final Path file;
    private final Path link;

    public HardLinkFlipper(Path target, String inside, Path secret) throws IOException {
        if (Files.size(secret) != inside.length()) {
            throw new IllegalArgumentException("the secret must be as long as the inside content");
        }
        this.target = target;
        this.inside = inside;
        this.secret = secret;
        this.file = target.resolveSibling("." + target.getFileName() + ".file");
        this.link = target.resolveSibling("." + target.getFileName() + ".link");
        Files.setLastModifiedTime(secret, time);
        start("hard-link-flipper");
    }

    @Override
    protected int round() throws IOException {
        Files.writeString(file, inside);
        Files.setLastModifiedTime(file, time);
        Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
        LockSupport.parkNanos(200_000);
        Files.deleteIfExists(link);
        Files.createLink(link, secret);
        Files.move(link, target, StandardCopyOption.ATOMIC_MOVE);
        LockSupport.parkNanos(200_000);
        return 2;
    }
}
