package dev.mailgate.support;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.locks.LockSupport;

/**
 * The outcome-folder swap as someone who may write to the outbox runs it: moves {@code folder} (e.g.
 * {@code outbox/.queued}) aside, puts a symbolic link to {@code target} in its place, and puts the real folder back,
 * with a pause of 0.2 ms after each step, until closed. Mailgate may make a new folder while the real one is aside;
 * the real one's entries are then moved into it, so that no file is lost by the flipping itself.
 */
public final class FolderFlipper extends Flipper {

    private final Path folder;
    private final Path aside;
    private final Path target;

    public FolderFlipper(Path folder, Path target) throws IOException {
        this.folder = folder;
        this.aside = folder.resolveSibling(folder.getFileName() + ".aside");
        this.target = target;
        Files.createDirectories(folder);
        start("folder-flipper-" + folder.getFileName());
    }

    /** The folder aside and a link in its place, then the folder back: one flip to a link. */
    @Override
    protected int round() {
        int linked = 0;
        try {
            Files.move(folder, aside);
            Files.createSymbolicLink(folder, target);
            linked = 1;
        } catch (IOException e) {
            // Mailgate made the folder again meanwhile, or it is aside already
        }
        LockSupport.parkNanos(200_000);
        restore();
        LockSupport.parkNanos(200_000);
        return linked;
    }

    /** The real folder back in its place (its entries moved into a folder Mailgate made meanwhile). */
    private void restore() {
        try {
            if (Files.isSymbolicLink(folder)) {
                Files.delete(folder);
            }
            if (!Files.exists(aside, LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            if (!Files.exists(folder, LinkOption.NOFOLLOW_LINKS)) {
                Files.move(aside, folder);
                return;
            }
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(aside)) {
                for (Path entry : entries) {
                    Files.move(entry, folder.resolve(entry.getFileName()));
                }
            }
            Files.delete(aside);
        } catch (IOException e) {
            // a race with Mailgate: the next round finishes it
        }
    }

    /** How often the folder was a link so far. */
    public int links() {
        return flips();
    }

    /** Stops flipping and leaves the real folder in its place. */
    @Override
    public void close() throws Exception {
        super.close();
        for (int i = 0; i < 100 && (Files.exists(aside, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(folder));
                i++) {
            restore();
        }
    }
}
