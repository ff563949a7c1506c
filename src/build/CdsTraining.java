import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Makes the class data sharing archive of the packaged gateway (run by Maven at {@code package}, see pom.xml): starts
 * {@code java -XX:ArchiveClassesAtExit=<archive> -jar <jar>} once, on embedded defaults, in an empty folder, and lets
 * Camel stop it a second after it is up; the JVM writes the classes it loaded into the archive as it exits.
 * <p>
 * The training gateway gets none of this process's environment but the locale: a developer's {@code MAILGATE_*} variables (a real
 * tenant, an outbox folder, a shared queue or journal) must not make a build deliver, consume or record anything.
 * It is the sandbox on ports chosen by the system, in {@code <folder>}, which is emptied first. A training start that
 * fails or takes more than two minutes fails the build with its log; {@code -Dmailgate.cds.skip} goes without.
 * <p>
 * JDK only, run as a single-file program: {@code java CdsTraining.java <jar> <archive> <folder>}.
 */
public class CdsTraining {

    public static void main(String[] args) throws Exception {
        Path jar = Path.of(args[0]).toAbsolutePath();
        Path archive = Path.of(args[1]).toAbsolutePath();
        Path folder = Path.of(args[2]).toAbsolutePath();
        delete(folder);
        Files.createDirectories(folder);
        // an archive of older jars would only be refused at every start
        Files.deleteIfExists(archive);
        Path log = folder.resolve("training.log");

        String java = ProcessHandle.current().info().command().orElse("java");
        // temporary files (Vert.x's cache) in the folder too: nothing is left behind, and on Windows the JVM's
        // default without TEMP in the environment is a folder users cannot write
        Path tmp = Files.createDirectories(folder.resolve("tmp"));
        ProcessBuilder training = new ProcessBuilder(java, "-XX:ArchiveClassesAtExit=" + archive,
                "-Djava.io.tmpdir=" + tmp, "-Dcamel.main.durationMaxSeconds=1", "-jar", jar.toString())
                .directory(folder.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        training.environment().keySet().removeIf(name -> !List.of("LANG", "LC_ALL", "LC_CTYPE", "TZ").contains(name));
        training.environment().put("MAILGATE_HTTP_PORT", "0");
        training.environment().put("MAILGATE_BROKER_PORT", "0");

        long started = System.nanoTime();
        Process gateway = training.start();
        boolean exited = gateway.waitFor(2, TimeUnit.MINUTES);
        if (!exited) {
            gateway.destroyForcibly().waitFor();
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        if (!exited || gateway.exitValue() != 0 || !Files.isRegularFile(archive)) {
            System.err.println(tail(log, 40));
            System.err.printf("The start-up archive %s could not be made: the training start %s (its log is above and "
                    + "in %s). Build with -Dmailgate.cds.skip=true to go without it.%n", archive,
                    exited ? "exited with " + gateway.exitValue() : "did not stop within two minutes", log);
            System.exit(1);
        }
        System.out.printf("Start-up archive %s: %d MB, from a training start of %.1f s%n", archive,
                Files.size(archive) >> 20, seconds);
    }

    private static String tail(Path log, int lines) throws IOException {
        List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
        return String.join(System.lineSeparator(), all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    private static void delete(Path folder) throws IOException {
        if (!Files.exists(folder)) {
            return;
        }
        try (Stream<Path> files = Files.walk(folder)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
