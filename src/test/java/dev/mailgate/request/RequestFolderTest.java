package dev.mailgate.request;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A JMS attachments folder configured outside {@code data/} may be shared with a group of producers
 * ({@code rwxrwx---}). The folder of each request Mailgate queues in it (HTTP uploads, outbox copies) is its own:
 * made readable by Mailgate's user only, so that a producer of the group can neither read another principal's files
 * nor put its own in their place (found by the final review: they were made under the umask, {@code rwxr-xr-x}).
 */
class RequestFolderTest {

    @TempDir
    Path dir;

    @Test
    void a_requests_folder_in_a_group_shared_uploads_folder_is_the_owners_alone() throws Exception {
        assumeTrue(Files.getFileStore(dir).supportsFileAttributeView(PosixFileAttributeView.class));
        Path shared = Files.createDirectories(dir.resolve("uploads"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwx---"));
        Path folder = shared.resolve("4b8c1f0e-0000-4000-8000-000000000001");
        MailRequest request = new MailRequest("sender@contoso.test", List.of("alice@example.com"), List.of(),
                List.of(), List.of(), "Payslip", "attached", null, null, Map.of(),
                List.of(MailRequest.Attachment.ofBytes("salary: 1".getBytes(StandardCharsets.UTF_8), "payslip.txt",
                        null, null)), Map.of(), MailRequest.Priority.NORMAL, null, null);

        MailRequestWriter.toJson(request, shared, folder);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(folder))).isEqualTo("rwx------");
        try (var files = Files.list(folder)) {
            assertThat(files).hasSize(1);
        }
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(shared))).isEqualTo("rwxrwx---");
    }
}
