package dev.mailgate.app;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import dev.mailgate.config.ConfigurationException;

/**
 * {@code plugins/*.jar} ({@code mailgate.plugins.dir}): Camel components, data formats and JDBC drivers that the
 * operator's own routes use and Mailgate does not ship, added without rebuilding. Camel resolves components through
 * its context's application class loader, so a route's {@code timer:} or {@code kafka:} finds the jar there.
 * <p>
 * A jar is code that runs as Mailgate, with its secrets: the folder and its jars must not be writable by other users
 * of the machine, or Mailgate refuses to start (checked where the file system has POSIX permissions).
 */
final class Plugins {

    private Plugins() {
    }

    /** A class loader over the folder's jars (in name order), or empty when there are none. */
    static Optional<ClassLoader> load(Path dir, ClassLoader parent) {
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        List<String> problems = new ArrayList<>();
        writableByOthers(dir).ifPresent(problems::add);
        List<Path> jars;
        try (Stream<Path> files = Files.list(dir)) {
            jars = files.filter(f -> f.getFileName().toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            throw new ConfigurationException("mailgate.plugins.dir=" + dir + " cannot be listed (" + e
                    + "); make it readable by Mailgate's user, or remove it");
        }
        List<URL> urls = new ArrayList<>();
        for (Path jar : jars) {
            if (!Files.isRegularFile(jar) || !Files.isReadable(jar)) {
                problems.add("mailgate.plugins.dir: " + jar + " is not a readable file; fix its permissions or "
                        + "remove it");
                continue;
            }
            writableByOthers(jar).ifPresent(problems::add);
            try {
                urls.add(jar.toUri().toURL());
            } catch (MalformedURLException e) {
                problems.add("mailgate.plugins.dir: " + jar + " cannot be named as a URL (" + e.getMessage() + ")");
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigurationException(problems);
        }
        if (urls.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new URLClassLoader("mailgate-plugins", urls.toArray(URL[]::new), parent));
    }

    /** The jar names, for the start-up log. */
    static List<String> names(ClassLoader plugins) {
        return Stream.of(((URLClassLoader) plugins).getURLs()).map(u -> Path.of(u.getPath()).getFileName().toString())
                .toList();
    }

    private static Optional<String> writableByOthers(Path file) {
        try {
            PosixFileAttributes attributes = Files.readAttributes(file, PosixFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            if (attributes.permissions().contains(PosixFilePermission.OTHERS_WRITE)) {
                return Optional.of("mailgate.plugins.dir: " + file + " is writable by every user of this machine, "
                        + "and what is in it runs as Mailgate; chmod o-w '" + file + "'");
            }
            return Optional.empty();
        } catch (UnsupportedOperationException e) {
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("mailgate.plugins.dir: " + file + " cannot be read (" + e.getMessage() + ")");
        }
    }
}
