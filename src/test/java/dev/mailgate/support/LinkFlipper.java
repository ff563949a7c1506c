package dev.mailgate.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.locks.LockSupport;

/**
 * The attachment race of issue 14: flips {@code target} between a plain file holding {@code inside} and a symbolic
 * link to {@code secret}, each by an atomic rename (so that {@code target} always exists), with a pause of 0.1 ms
 * after each flip, until closed.
 */
public final class LinkFlipper extends Flipper {

    private final Path target;
    private final String inside;
    private final Path secret;
    private final Path file;
    private final Path link;

    public LinkFlipper(Path target, String inside, Path secret) throws IOException {
        this.target = target;
        this.inside = inside;
        this.secret = secret;
        this.file = target.resolveSibling("." + target.getFileName() + ".file");
        this.link = target.resolveSibling("." + target.getFileName() + ".link");
        Files.writeString(target, inside);
        start("attachment-flipper");
    }

    @Override
    protected int round() throws IOException {
        Files.deleteIfExists(link);
        Files.createSymbolicLink(link, secret);
        Files.move(link, target, StandardCopyOption.ATOMIC_MOVE);
        LockSupport.parkNanos(100_000);
        Files.writeString(file, inside);
        Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
        LockSupport.parkNanos(100_000);
        return 2;
    }
}
