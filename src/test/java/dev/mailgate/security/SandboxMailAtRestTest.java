package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.support.Gateway;
import dev.mailgate.support.Http;
import dev.mailgate.support.MailgateExtension;

/**
 * Issue 14, item 11, in the sandbox: the .eml files it writes hold every header, Bcc included, and were readable by
 * every local user under the usual umask 022. The sandbox gateway (no tenant) cannot share a JVM with another
 * running gateway's embedded broker, hence a class of its own.
 */
class SandboxMailAtRestTest {

    @Test
    void sandbox_mail_is_written_where_only_the_owner_can_reach_it(@TempDir Path dir) throws IOException {
        assumeTrue(DataAtRestTest.posix());
        Map<String, String> properties = Gateway.folders(dir);
        properties.put("mailgate.http.api-keys", MailgateExtension.API_KEY);
        try (Gateway gateway = Gateway.start(dir, properties)) {
            Http http = new Http(Integer.parseInt(properties.get("mailgate.http.port")));
            assertThat(http.postJson(MailgateExtension.API_KEY, "{\"to\": \"bob@example.com\", \"subject\": "
                    + "\"Bcc inside\", \"bcc\": \"hidden@example.com\", \"text\": \"x\"}").statusCode()).isEqualTo(202);
            Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> emls(dir.resolve("data/sandbox")) > 0);
        }
        // the .eml holds the Bcc address; no other user can even enter the folders it is in
        for (String folder : new String[] {"data", "data/sandbox", "data/broker", "data/uploads"}) {
            assertThat(Files.getPosixFilePermissions(dir.resolve(folder))).as(folder)
                    .isEqualTo(PosixFilePermissions.fromString("rwx------"));
        }
    }

    private static long emls(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            return 0;
        }
        try (Stream<Path> files = Files.list(folder)) {
            return files.filter(f -> f.toString().endsWith(".eml")).count();
        }
    }
}
