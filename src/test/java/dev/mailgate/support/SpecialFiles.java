package dev.mailgate.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import org.junit.jupiter.api.Assumptions;

/** FIFOs for tests: made with the system's {@code mkfifo} (the JDK has no call for it). */
public final class SpecialFiles {

    private SpecialFiles() {
    }

    public static Path mkfifo(Path path) throws IOException, InterruptedException {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/mkfifo")), "needs /usr/bin/mkfifo");
        assertThat(new ProcessBuilder("/usr/bin/mkfifo", path.toString()).inheritIO().start().waitFor()).isZero();
        return path;
    }

    /**
     * Lets go of whoever waits in {@code open()} of this FIFO, where it was made or in {@code .failed/} next to it, so
     * that a test that failed (on code that blocks) still ends.
     */
    public static void release(Path fifo) {
        for (Path p : List.of(fifo, fifo.resolveSibling(".failed").resolve(fifo.getFileName()))) {
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
                    && !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                try (FileChannel ignored = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE,
                        LinkOption.NOFOLLOW_LINKS)) {
                    // opening a FIFO for reading and writing never blocks on Linux, and counts as its writer
                } catch (IOException | UnsupportedOperationException e) {
                    // gone, or not a FIFO
                }
            }
        }
    }
}
