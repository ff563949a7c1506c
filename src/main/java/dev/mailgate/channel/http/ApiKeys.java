package dev.mailgate.channel.http;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.GeneratedSecret;
import dev.mailgate.config.Settings;

/**
 * The API keys the HTTP API accepts: from {@code MAILGATE_HTTP_API_KEYS}, a keys file, or, when none is
 * configured, one generated at first start and kept in {@code data/http-api-key} (readable by its owner only).
 * Keys are held only as SHA-256 digests and compared in constant time, against every key.
 */
public final class ApiKeys {

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
            keys.add(GeneratedSecret.in(dataDir.resolve("http-api-key"), "HTTP API key",
                    "MAILGATE_HTTP_API_KEYS or mailgate.http.api-keys-file"));
        }
        return new ApiKeys(keys);
    }

    /** Whether {@code presented} is one of the keys; takes the same time whichever key matches, or none. */
    public boolean accepts(String presented) {
        return indexOf(presented) >= 0;
    }

    /** Which key {@code presented} is (its position), or -1; compared against every key, in constant time. */
    public int indexOf(String presented) {
        if (presented == null || presented.isEmpty()) {
            return -1;
        }
        byte[] digest = sha256(presented);
        int found = -1;
        for (int i = 0; i < digests.size(); i++) {
            boolean match = MessageDigest.isEqual(digests.get(i), digest);
            found = match ? i : found;
        }
        return found;
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
