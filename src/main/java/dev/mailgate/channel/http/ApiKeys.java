package dev.mailgate.channel.http;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.Settings;

/**
 * The API keys the HTTP API accepts: from {@code MAILGATE_HTTP_API_KEYS}, a keys file, or, when none is
 * configured, one generated at first start and kept in {@code data/http-api-key} (readable by its owner only).
 * Keys are held only as SHA-256 digests and compared in constant time, against every key.
 */
public final class ApiKeys {

    private static final Logger LOG = LoggerFactory.getLogger(ApiKeys.class);

    private final List<byte[]> digests;

    private ApiKeys(List<String> keys) {
        this.digests = keys.stream().map(ApiKeys::sha256).toList();
    }

    public static ApiKeys load(Settings.Http http, Path dataDir) {
        List<String> keys = new ArrayList<>(http.apiKeys());
        if (http.apiKeysFile().isPresent()) {
            Path file = http.apiKeysFile().get();
            try {
                Files.readAllLines(file, StandardCharsets.UTF_8).stream().map(String::trim)
                        .filter(l -> !l.isEmpty() && !l.startsWith("#")).forEach(keys::add);
            } catch (NoSuchFileException e) {
                throw new ConfigurationException("mailgate.http.api-keys-file " + file + " does not exist");
            } catch (IOException e) {
                throw new ConfigurationException("mailgate.http.api-keys-file " + file + " cannot be read ("
                        + e.getClass().getSimpleName() + ")");
            }
        }
        if (keys.stream().anyMatch(k -> k.length() < 16)) {
            throw new ConfigurationException("an HTTP API key is shorter than 16 characters; use long random keys "
                    + "(e.g. openssl rand -base64 32)");
        }
        if (keys.isEmpty()) {
            keys.add(generated(dataDir.resolve("http-api-key")));
        }
        return new ApiKeys(keys);
    }

    /** The key kept in {@code file}, made on first use. Its value is never logged, only where it is. */
    private static String generated(Path file) {
        try {
            if (Files.exists(file)) {
                return Files.readString(file, StandardCharsets.UTF_8).trim();
            }
            byte[] random = new byte[32];
            new SecureRandom().nextBytes(random);
            String key = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Files.createDirectories(file.getParent());
            Files.writeString(file, key + "\n", StandardCharsets.UTF_8);
            try {
                Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system: the folder's permissions apply
            }
            LOG.warn("No HTTP API key configured (MAILGATE_HTTP_API_KEYS or mailgate.http.api-keys-file): generated "
                    + "one in {}", file.toAbsolutePath());
            return key;
        } catch (IOException e) {
            throw new ConfigurationException("cannot keep the generated HTTP API key in " + file + " ("
                    + e.getClass().getSimpleName() + "); configure MAILGATE_HTTP_API_KEYS instead");
        }
    }

    /** Whether {@code presented} is one of the keys; takes the same time whichever key matches, or none. */
    public boolean accepts(String presented) {
        if (presented == null || presented.isEmpty()) {
            return false;
        }
        byte[] digest = sha256(presented);
        boolean match = false;
        for (byte[] key : digests) {
            match |= MessageDigest.isEqual(key, digest);
        }
        return match;
    }

    public int count() {
        return digests.size();
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
