package dev.mailgate.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.channel.http.ApiKeys;
import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.Settings;

/**
 * The API key check, as behaviour: keys are kept only as SHA-256 digests (so every comparison is between two
 * 32-byte digests, whatever the length of what a client sends), the digest itself is not a key, near misses are
 * refused, and every configured key is checked. Timing is not measured.
 */
class ApiKeyComparisonTest {

    private static final String FIRST = "first-api-key-0123456789abcdef";
    private static final String SECOND = "second-api-key-0123456789abcdef";
    private static final String THIRD = "third-api-key-0123456789abcdef";

    @TempDir
    Path dataDir;

    private ApiKeys keys(String... keys) {
        Settings settings = Settings.read(key -> key.equals("mailgate.http.api-keys")
                ? Optional.of(String.join(",", keys)) : Optional.empty());
        return ApiKeys.load(settings.http(), dataDir);
    }

    @Test
    void keys_are_held_only_as_sha256_digests_never_as_text() throws Exception {
        ApiKeys keys = keys(FIRST, SECOND);

        List<Object> held = new ArrayList<>();
        collect(keys, held, 0);

        for (String key : List.of(FIRST, SECOND)) {
            byte[] text = key.getBytes(StandardCharsets.UTF_8);
            assertThat(held).as("what ApiKeys holds").noneMatch(o -> o instanceof String s && s.contains(key)
                    || o instanceof char[] c && new String(c).contains(key)
                    || o instanceof byte[] b && Arrays.equals(b, text));
            assertThat(held).anyMatch(o -> o instanceof byte[] b && Arrays.equals(b, sha256(key)));
        }
        assertThat(held).filteredOn(o -> o instanceof byte[]).allMatch(o -> ((byte[]) o).length == 32);
    }

    @Test
    void presenting_the_stored_digest_instead_of_the_key_is_refused() {
        ApiKeys keys = keys(FIRST);
        byte[] digest = sha256(FIRST);

        assertThat(keys.accepts(HexFormat.of().formatHex(digest))).isFalse();
        assertThat(keys.accepts(Base64.getEncoder().encodeToString(digest))).isFalse();
        assertThat(keys.accepts(new String(digest, StandardCharsets.ISO_8859_1))).isFalse();
        assertThat(keys.accepts(FIRST)).isTrue();
    }

    @Test
    void a_key_differing_only_in_its_last_character_is_refused() {
        ApiKeys keys = keys(FIRST);

        assertThat(keys.accepts(FIRST.substring(0, FIRST.length() - 1) + "g")).isFalse();
        assertThat(keys.accepts("x" + FIRST.substring(1))).isFalse();
    }

    @Test
    void a_prefix_or_an_extension_of_a_key_is_refused() {
        ApiKeys keys = keys(FIRST);

        assertThat(keys.accepts(FIRST.substring(0, 16))).isFalse();
        assertThat(keys.accepts(FIRST + "0")).isFalse();
        assertThat(keys.accepts(FIRST + FIRST)).isFalse();
        assertThat(keys.accepts(" " + FIRST)).isFalse();
    }

    @Test
    void a_key_in_another_case_is_refused() {
        assertThat(keys(FIRST).accepts(FIRST.toUpperCase(java.util.Locale.ROOT))).isFalse();
    }

    @Test
    void missing_empty_and_huge_keys_are_refused() {
        ApiKeys keys = keys(FIRST);

        assertThat(keys.accepts(null)).isFalse();
        assertThat(keys.accepts("")).isFalse();
        assertThat(keys.accepts("k".repeat(1_000_000))).isFalse();
    }

    @Test
    void every_configured_key_is_checked_whichever_position_it_has() {
        ApiKeys keys = keys(FIRST, SECOND, THIRD);

        assertThat(keys.accepts(FIRST)).isTrue();
        assertThat(keys.accepts(SECOND)).isTrue();
        assertThat(keys.accepts(THIRD)).isTrue();
        assertThat(keys.count()).isEqualTo(3);
        // each key is told apart (the per-key rate limit counts on it), and a wrong one is none of them
        assertThat(List.of(keys.indexOf(FIRST), keys.indexOf(SECOND), keys.indexOf(THIRD))).containsExactly(0, 1, 2);
        assertThat(keys.indexOf(FIRST + "x")).isEqualTo(-1);
    }

    @Test
    void keys_shorter_than_sixteen_characters_stop_start_up() {
        Throwable thrown = catchThrowable(() -> keys(FIRST, "short-key"));

        assertThat(thrown).isInstanceOf(ConfigurationException.class).hasMessageContaining("shorter than 16");
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Every string, byte and char array reachable from {@code o} through Mailgate's own objects and collections. */
    private static void collect(Object o, List<Object> out, int depth) throws IllegalAccessException {
        if (o == null || depth > 8) {
            return;
        }
        if (o instanceof String || o instanceof byte[] || o instanceof char[]) {
            out.add(o);
        } else if (o instanceof Collection<?> c) {
            for (Object e : c) {
                collect(e, out, depth + 1);
            }
        } else if (o instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                collect(e.getKey(), out, depth + 1);
                collect(e.getValue(), out, depth + 1);
            }
        } else if (o instanceof Object[] array) {
            for (Object e : array) {
                collect(e, out, depth + 1);
            }
        } else if (o.getClass().getName().startsWith("dev.mailgate.")) {
            for (Class<?> type = o.getClass(); type != null; type = type.getSuperclass()) {
                for (Field field : type.getDeclaredFields()) {
                    if (!Modifier.isStatic(field.getModifiers()) && !field.getType().isPrimitive()) {
                        field.setAccessible(true);
                        collect(field.get(o), out, depth + 1);
                    }
                }
            }
        }
    }
}
