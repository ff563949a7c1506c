package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.mailgate.support.MailgateExtension;

/**
 * Issue 14, items 11 and 12: under the usual umask 022 the broker journal (message bodies, Bcc addresses), the
 * delivery journal and the sandbox's .eml files were readable by every local user, and the partial uploads of a
 * request cut short by a crash stayed in {@code data/http-uploads/} for ever. The sandbox's .eml files:
 * {@link SandboxMailAtRestTest}.
 */
class DataAtRestTest {

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");
    private static final String LEFTOVER = "vertx-upload-leftover-of-a-crash";
    /** Folders configured outside data/, as an operator may put the broker's journal on its own disk. */
    private static final Path ELSEWHERE = temporaryFolder();

    @RegisterExtension
    static final MailgateExtension mailgate = MailgateExtension.realTenant()
            .with("mailgate.broker.dir", ELSEWHERE.resolve("broker").toString())
            .with("mailgate.jms.attachments-dir", ELSEWHERE.resolve("uploads").toString())
            .prepare(dir -> {
                try {
                    // data/ as an earlier version left it, readable by all, with a partial upload a crash left behind
                    Path uploads = Files.createDirectories(dir.resolve("data/http-uploads"));
                    Files.setPosixFilePermissions(dir.resolve("data"), PosixFilePermissions.fromString("rwxr-xr-x"));
                    Files.writeString(uploads.resolve(LEFTOVER), "half of an attachment");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });

    @AfterAll
    static void removeElsewhere() throws IOException {
        try (Stream<Path> walk = Files.walk(ELSEWHERE)) {
            walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void data_folder_readable_by_other_users_is_made_owner_only_at_start_and_says_so() throws IOException {
        assumeTrue(posix());

        assertThat(Files.getPosixFilePermissions(mailgate.dir().resolve("data"))).isEqualTo(OWNER_ONLY);
        // one line, for data/ alone: the folders configured elsewhere were new, and made owner-only from the start
        assertThat(mailgate.logLines()).filteredOn(l -> l.contains("owner-only")).isNotEmpty()
                .allMatch(l -> l.contains(mailgate.dir().resolve("data") + " (mailgate.data.dir)")
                        && l.contains("it was rwxr-xr-x, now rwx------"));
    }

    @Test
    void broker_journal_and_uploads_configured_elsewhere_are_created_owner_only() throws IOException {
        assumeTrue(posix());

        assertThat(Files.getPosixFilePermissions(ELSEWHERE.resolve("broker"))).isEqualTo(OWNER_ONLY);
        assertThat(Files.getPosixFilePermissions(ELSEWHERE.resolve("uploads"))).isEqualTo(OWNER_ONLY);
        // the journal files with the messages' bodies are in there, out of other users' reach
        try (Stream<Path> journal = Files.walk(ELSEWHERE.resolve("broker"))) {
            assertThat(journal.filter(Files::isRegularFile)).isNotEmpty();
        }
    }

    @Test
    void a_jms_attachments_folder_shared_with_a_group_outside_data_keeps_the_group_and_loses_other_users()
            throws IOException {
        assumeTrue(posix());
        Path uploads = ELSEWHERE.resolve("uploads");
        // as an operator shares it with the producers' group, and by mistake with everyone
        Files.setPosixFilePermissions(uploads, PosixFilePermissions.fromString("rwxrwxr-x"));

        mailgate.restart();

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(uploads))).isEqualTo("rwxrwx---");
        assertThat(mailgate.logLines()).anyMatch(l -> l.contains(uploads + " (mailgate.jms.attachments-dir) closed to "
                + "other users") && l.contains("it was rwxrwxr-x, now rwxrwx---"));
    }

    @Test
    void partial_uploads_left_by_a_crash_are_deleted_at_start_also_after_a_restart() {
        Path leftover = mailgate.dir().resolve("data/http-uploads").resolve(LEFTOVER);
        assertThat(leftover).doesNotExist();
        assertThat(mailgate.logLines()).anyMatch(l -> l.contains("Deleted 1 partial upload")
                && l.contains("http-uploads"));
        // every start so far said it once (another test of this class may have restarted the gateway before)
        long before = mailgate.logLines().stream().filter(l -> l.contains("Deleted 1 partial upload")).count();

        // a real restart on the same folders, the leftover put back before it (prepare runs before every start)
        mailgate.restart();

        assertThat(leftover).doesNotExist();
        assertThat(mailgate.logLines()).filteredOn(l -> l.contains("Deleted 1 partial upload")).hasSize(
                (int) before + 1);
        // and the gateway takes uploads as before
        assertThat(mailgate.http().postMultipart(MailgateExtension.API_KEY, "{\"to\": \"a@example.com\", "
                + "\"subject\": \"After restart\", \"text\": \"x\"}", Map.of("a.txt",
                        "attached".getBytes(StandardCharsets.UTF_8))).statusCode()).isEqualTo(202);
    }

    static boolean posix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }

    private static Path temporaryFolder() {
        try {
            return Files.createTempDirectory("mailgate-elsewhere");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
