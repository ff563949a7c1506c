package dev.mailgate.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * {@code application.properties} is where Mailgate's settings are documented and defaulted: each key with the comment
 * that explains it. The README's configuration table is made from it, and this test keeps the three in step: the
 * table is the one the file gives (run with {@code -Dmailgate.docs.write=true} to rewrite it after editing the file),
 * every key Mailgate reads is in the file, and the file's defaults are the ones {@link Settings} applies.
 */
class ConfigurationDocsTest {

    private static final Path PROPERTIES = Path.of("src/main/resources/application.properties");
    private static final Path README = Path.of("README.md");
    private static final String SECTION = "# ==== Mailgate settings ====";
    private static final String TABLE_START = "<!-- settings table: made from src/main/resources/application.properties"
            + " (ConfigurationDocsTest) -->";
    private static final String TABLE_END = "<!-- end of settings table -->";
    private static final Pattern KEY_LINE = Pattern.compile("^(#)?(mailgate\\.[a-z0-9.\\-]+)\\s*=\\s*(.*)$");

    /** One documented setting (or a group of keys that share a line in the table). */
    private record Entry(List<String> keys, String defaultText, String meaning, Map<String, String> values) {
    }

    @Test
    void the_readme_table_is_the_one_application_properties_gives() throws IOException {
        String table = table(entries());
        String readme = Files.readString(README);
        int start = readme.indexOf(TABLE_START);
        int end = readme.indexOf(TABLE_END);
        assertThat(start).as("README marks the table with " + TABLE_START).isNotNegative();
        String current = readme.substring(start + TABLE_START.length(), end);
        if (Boolean.getBoolean("mailgate.docs.write") && !current.equals(table)) {
            Files.writeString(README, readme.substring(0, start + TABLE_START.length()) + table
                    + readme.substring(end));
            current = table;
        }
        assertThat(current).as("the README's settings table differs from application.properties: run mvn test "
                + "-Dtest=ConfigurationDocsTest -Dmailgate.docs.write=true").isEqualTo(table);
    }

    @Test
    void every_key_mailgate_reads_is_documented_and_every_documented_key_is_read() throws IOException {
        Set<String> read = new LinkedHashSet<>();
        Settings.read(key -> {
            read.add(key);
            return Optional.empty();
        });
        Set<String> documented = new LinkedHashSet<>();
        entries().forEach(e -> documented.addAll(e.keys()));

        assertThat(documented).containsAll(read);
        // read only when the key they belong to is set (a proxy, a trust store, an HTTPS key store)
        read.addAll(List.of("mailgate.entra.proxy-user", "mailgate.entra.proxy-password", "mailgate.smtp.proxy-user",
                "mailgate.smtp.proxy-password", "mailgate.tls.truststore-password",
                "mailgate.http.tls.keystore-password"));
        assertThat(read).containsAll(documented);
    }

    @Test
    void the_defaults_in_application_properties_are_the_ones_mailgate_applies() throws IOException {
        Map<String, String> defaults = new LinkedHashMap<>();
        entries().forEach(e -> defaults.putAll(e.values()));
        assertThat(defaults).isNotEmpty();

        Settings fromFile = Settings.read(key -> Optional.ofNullable(defaults.get(key)));
        Settings builtIn = Settings.read(key -> Optional.empty());

        assertThat(fromFile).isEqualTo(builtIn);
        // and Camel reads the file as this test does
        Properties loaded = new Properties();
        try (InputStream in = Files.newInputStream(PROPERTIES)) {
            loaded.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
        }
        defaults.forEach((key, value) -> assertThat(loaded.getProperty(key)).as(key).isEqualTo(value));
    }

    /** The blocks after {@value #SECTION}: comment lines (the meaning, then an optional "default:"), then keys. */
    private static List<Entry> entries() throws IOException {
        List<String> lines = Files.readAllLines(PROPERTIES);
        int from = lines.indexOf(SECTION);
        assertThat(from).as(PROPERTIES + " has the line " + SECTION).isNotNegative();
        List<Entry> entries = new ArrayList<>();
        List<String> block = new ArrayList<>();
        for (String line : lines.subList(from + 1, lines.size())) {
            if (line.isBlank()) {
                if (!block.isEmpty()) {
                    entries.add(entry(block));
                    block = new ArrayList<>();
                }
            } else {
                block.add(line);
            }
        }
        if (!block.isEmpty()) {
            entries.add(entry(block));
        }
        return entries;
    }

    private static Entry entry(List<String> block) {
        StringBuilder meaning = new StringBuilder();
        String defaultText = null;
        List<String> keys = new ArrayList<>();
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : block) {
            Matcher key = KEY_LINE.matcher(line);
            if (key.matches()) {
                keys.add(key.group(2));
                if (key.group(1) == null) {
                    values.put(key.group(2), key.group(3).strip());
                }
            } else if (line.startsWith("# default: ")) {
                defaultText = line.substring("# default: ".length());
            } else if (line.startsWith("# ")) {
                meaning.append(meaning.length() == 0 ? "" : " ").append(line.substring(2));
            } else {
                throw new AssertionError("unexpected line in " + PROPERTIES + ": " + line);
            }
        }
        assertThat(keys).as("a key after: " + block.get(0)).isNotEmpty();
        assertThat(meaning).as("a comment for " + keys).isNotEmpty();
        if (defaultText == null) {
            assertThat(values).as(keys + " has a value or a '# default:' line").hasSize(1);
            defaultText = "`" + values.values().iterator().next() + "`";
        }
        return new Entry(keys, defaultText, meaning.toString(), values);
    }

    private static String table(List<Entry> entries) {
        StringBuilder table = new StringBuilder("\n| key | default | meaning |\n|---|---|---|\n");
        for (Entry e : entries) {
            table.append("| ").append(String.join(", ", e.keys().stream().map(k -> "`" + k + "`").toList()))
                    .append(" | ").append(e.defaultText()).append(" | ").append(e.meaning()).append(" |\n");
        }
        return table.append('\n').toString();
    }
}
