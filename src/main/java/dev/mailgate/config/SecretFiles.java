package dev.mailgate.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Files that hold secrets (client secret, private key, PKCS#12, API keys) should be readable by their owner only:
 * Mailgate says so at start when one can be read by other users, naming the key and the fix.
 */
public final class SecretFiles {

    private SecretFiles() {
    }

    /** One warning per secret file that group or others may read. */
    public static List<String> warnings(Settings settings) {
        Map<String, Optional<Path>> files = new LinkedHashMap<>();
        files.put("mailgate.entra.client-secret-file", settings.entra().clientSecretFile());
        files.put("mailgate.entra.private-key-file", settings.entra().privateKeyFile());
        files.put("mailgate.entra.pkcs12-file", settings.entra().pkcs12File());
        files.put("mailgate.http.api-keys-file", settings.http().apiKeysFile());
        files.put("mailgate.http.tls.keystore", settings.http().tlsKeystore().map(Settings.Trust::file));
        List<String> warnings = new ArrayList<>();
        files.forEach((key, file) -> file.filter(Files::isRegularFile).ifPresent(f -> {
            try {
                Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(f);
                if (permissions.stream().anyMatch(p -> !p.name().startsWith("OWNER_"))) {
                    warnings.add(key + " " + f + " can be read by other users (" + PosixFilePermissions.toString(
                            permissions) + "); it holds a secret: chmod 600 " + f);
                }
            } catch (UnsupportedOperationException | IOException e) {
                // no POSIX permissions here (or unreadable, which reading the secret reports): nothing to say
            }
        }));
        return warnings;
    }
}
