package dev.mailgate.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A secret Mailgate makes for itself when none is configured (the HTTP API key, the embedded broker's password),
 * kept in a file under {@code data/} that only its owner can read, created with those permissions from the start.
 * Its value is never logged, only where it is.
 */
public final class GeneratedSecret {

    private static final Logger LOG = LoggerFactory.getLogger(GeneratedSecret.class);

    private GeneratedSecret() {
    }

    /** The secret in {@code file}, made on first use. */
    public static String in(Path file, String what, String howToConfigure) {
        try {
            if (Files.exists(file)) {
                String existing = Files.readString(file, StandardCharsets.UTF_8).trim();
                if (!existing.isEmpty()) {
                    return existing;
                }
                Files.delete(file);
            }
            byte[] random = new byte[32];
            new SecureRandom().nextBytes(random);
            String secret = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Files.createDirectories(file.getParent());
            try {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException e) {
                Files.createFile(file);
                LOG.warn("{} is on a file system without POSIX permissions; restrict who can read it", file);
            }
            Files.writeString(file, secret + "\n", StandardCharsets.UTF_8);
            LOG.warn("No {} configured ({}): generated one in {}", what, howToConfigure, file.toAbsolutePath());
            return secret;
        } catch (FileAlreadyExistsException e) {
            return in(file, what, howToConfigure);
        } catch (IOException e) {
            throw new ConfigurationException("cannot keep the generated " + what + " in " + file + " ("
                    + e.getClass().getSimpleName() + "); configure it instead: " + howToConfigure);
        }
    }
}
