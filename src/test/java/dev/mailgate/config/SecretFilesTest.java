package dev.mailgate.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretFilesTest {

    @TempDir
    Path dir;

    private Settings settings(Path secret, Path keys) {
        Map<String, String> values = Map.of("mailgate.entra.client-secret-file", secret.toString(),
                "mailgate.http.api-keys-file", keys.toString());
        return Settings.read(key -> Optional.ofNullable(values.get(key)));
    }

    @Test
    void secret_file_readable_by_other_users_is_named_with_the_fix() throws Exception {
        Path secret = Files.writeString(dir.resolve("client-secret"), "s3cr3t-value");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-r--r--"));
        Path keys = Files.writeString(dir.resolve("api-keys"), "key-value-0123456789");
        Files.setPosixFilePermissions(keys, PosixFilePermissions.fromString("rw-------"));

        assertThat(SecretFiles.warnings(settings(secret, keys))).singleElement().asString()
                .contains("mailgate.entra.client-secret-file", "rw-r--r--", "chmod 600 " + secret)
                .doesNotContain("s3cr3t-value");
    }

    @Test
    void owner_only_secret_files_give_no_warning() throws Exception {
        Path secret = Files.writeString(dir.resolve("client-secret"), "s3cr3t-value");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("r--------"));
        Path keys = Files.writeString(dir.resolve("api-keys"), "key-value-0123456789");
        Files.setPosixFilePermissions(keys, PosixFilePermissions.fromString("rw-------"));

        assertThat(SecretFiles.warnings(settings(secret, keys))).isEmpty();
    }
}
