package dev.mailgate.channel.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.config.ConfigurationException;
import dev.mailgate.config.Settings;

/**
 * API keys with names and roles: the keys file ({@code name: key [admin]} or a bare key), the environment's list
 * ({@code name=key [admin]} or a bare key), the generated key, and configuration mistakes reported by place without
 * the key in the message.
 */
class ApiKeysTest {

    private static final String ALICE = "alice-key-0123456789abcdef";
    private static final String BOB = "bob-key-0123456789abcdefgh";
    private static final String OPS = "ops-key-0123456789abcdefgh";

    @TempDir
    Path dir;

    private ApiKeys load(Map<String, String> settings) {
        return ApiKeys.load(Settings.read(key -> Optional.ofNullable(settings.get(key))).http(), dir);
    }

    private ApiKeys file(String content) throws Exception {
        Path file = Files.writeString(dir.resolve("api-keys"), content);
        return load(Map.of("mailgate.http.api-keys-file", file.toString()));
    }

    private static ApiKeys.Key who(ApiKeys keys, String key) {
        return keys.key(keys.indexOf(key));
    }

    private static String digestName(String key) throws Exception {
        return "key-" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(key.getBytes(StandardCharsets.UTF_8)), 0, 4);
    }

    @Test
    void a_keys_file_names_keys_gives_the_admin_role_and_still_takes_bare_keys() throws Exception {
        ApiKeys keys = file("# who may call the API\nalice: " + ALICE + "\n\nops: " + OPS + " admin\n" + BOB + "\n");

        assertThat(keys.count()).isEqualTo(3);
        assertThat(who(keys, ALICE)).isEqualTo(new ApiKeys.Key("alice", false));
        assertThat(who(keys, OPS)).isEqualTo(new ApiKeys.Key("ops", true));
        // a bare key is named by a digest prefix, which stays when lines move, and is never the key itself
        assertThat(who(keys, BOB)).isEqualTo(new ApiKeys.Key(digestName(BOB), false));
        assertThat(who(keys, ALICE).principal()).isEqualTo("http:alice");
    }

    @Test
    void the_environment_takes_name_equals_key_items_and_bare_keys_base64_padding_included() throws Exception {
        String padded = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJ+/==";
        ApiKeys keys = load(Map.of("mailgate.http.api-keys", "alice=" + ALICE + ", ops=" + OPS + " admin, " + padded));

        assertThat(who(keys, ALICE)).isEqualTo(new ApiKeys.Key("alice", false));
        assertThat(who(keys, OPS)).isEqualTo(new ApiKeys.Key("ops", true));
        assertThat(who(keys, padded)).isEqualTo(new ApiKeys.Key(digestName(padded), false));
    }

    @Test
    void the_generated_key_is_named_default_and_is_an_admin() throws Exception {
        ApiKeys keys = load(Map.of());

        String generated = Files.readString(dir.resolve("http-api-key")).trim();
        assertThat(who(keys, generated)).isEqualTo(new ApiKeys.Key("default", true));
    }

    @Test
    void mistakes_name_the_line_and_never_the_key() throws Exception {
        Throwable role = catchThrowable(() -> file("alice: " + ALICE + "\nbob: " + BOB + " superuser\n"));
        Throwable twice = catchThrowable(() -> file("alice: " + ALICE + "\nbob: " + ALICE + "\n"));
        Throwable sameName = catchThrowable(() -> file("alice: " + ALICE + "\nalice: " + BOB + "\n"));
        Throwable badName = catchThrowable(() -> file("al ice: " + ALICE + "\n"));
        Throwable shortKey = catchThrowable(() -> load(Map.of("mailgate.http.api-keys", "alice=tiny-k3y")));

        assertThat(role).isInstanceOf(ConfigurationException.class).hasMessageContaining("line 2")
                .hasMessageContaining("the only role is admin");
        assertThat(twice).isInstanceOf(ConfigurationException.class).hasMessageContaining("configured twice");
        assertThat(sameName).isInstanceOf(ConfigurationException.class).hasMessageContaining("two HTTP API keys are "
                + "named alice");
        assertThat(badName).isInstanceOf(ConfigurationException.class).hasMessageContaining("line 1");
        assertThat(shortKey).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("MAILGATE_HTTP_API_KEYS) item 1").hasMessageContaining("shorter than 16");
        for (Throwable t : new Throwable[] {role, twice, sameName, badName, shortKey}) {
            assertThat(t.getMessage()).doesNotContain(ALICE, BOB, "tiny-k3y");
        }
    }
}
