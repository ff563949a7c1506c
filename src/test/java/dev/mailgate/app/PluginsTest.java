package dev.mailgate.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.mailgate.config.ConfigurationException;

/** {@code plugins/}: jars on Camel's class path, and no jar other users of the machine could have changed. */
class PluginsTest {

    @TempDir
    Path dir;

    @Test
    void the_jars_of_the_folder_are_on_the_loader_and_a_missing_folder_adds_nothing() throws Exception {
        Path plugins = Files.createDirectories(dir.resolve("plugins"));
        jar(plugins.resolve("extra.jar"), "META-INF/services/org/apache/camel/component/extra");
        Files.writeString(plugins.resolve("README.txt"), "not a jar");

        ClassLoader loader = Plugins.load(plugins, getClass().getClassLoader()).orElseThrow();

        assertThat(loader.getResource("META-INF/services/org/apache/camel/component/extra")).isNotNull();
        assertThat(Plugins.names(loader)).containsExactly("extra.jar");
        assertThat(Plugins.load(dir.resolve("missing"), getClass().getClassLoader())).isEmpty();
    }

    @Test
    void a_jar_or_folder_other_users_may_write_is_refused_naming_the_fix() throws Exception {
        Path plugins = Files.createDirectories(dir.resolve("plugins"));
        Path jar = jar(plugins.resolve("extra.jar"), "x");
        Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString("rw-rw-rw-"));
        Files.setPosixFilePermissions(plugins, PosixFilePermissions.fromString("rwxrwxrwx"));

        assertThatThrownBy(() -> Plugins.load(plugins, getClass().getClassLoader()))
                .isInstanceOfSatisfying(ConfigurationException.class, e -> assertThat(e.problems()).containsExactly(
                        "mailgate.plugins.dir: " + plugins + " is writable by every user of this machine, and what "
                                + "is in it runs as Mailgate; chmod o-w '" + plugins + "'",
                        "mailgate.plugins.dir: " + jar + " is writable by every user of this machine, and what is "
                                + "in it runs as Mailgate; chmod o-w '" + jar + "'"));
    }

    private static Path jar(Path file, String entry) throws Exception {
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(file))) {
            out.putNextEntry(new JarEntry(entry));
            out.write("class=org.example.ExtraComponent\n".getBytes());
            out.closeEntry();
        }
        return file;
    }
}
