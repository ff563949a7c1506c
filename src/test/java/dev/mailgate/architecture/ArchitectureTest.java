package dev.mailgate.architecture;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;

/**
 * The package structure, read from the compiled classes with ArchUnit: which of Mailgate's packages uses which. Today
 * most of them use each other in cycles; the Camel-native restructuring turns this into one-way layers. Until then
 * the dependencies that exist are listed here, and a new one fails this test: no new cycle can be closed. A listed
 * dependency that is gone fails it too, so that the list only ever shrinks.
 */
class ArchitectureTest {

    private static final String ROOT = "dev.mailgate";

    /**
     * {@code from -> to}: today's dependencies between the packages right below dev.mailgate ({@code .}: the root,
     * the entry point; nothing depends on it any more).
     */
    private static final Set<String> KNOWN = Set.of(
            ". -> cli", ". -> config", ". -> text", "auth -> config", "auth -> text", "channel -> config",
            "channel -> outcome", "channel -> render", "channel -> request", "channel -> text", "cli -> auth",
            "cli -> compose", "cli -> config", "cli -> doctor", "cli -> outcome", "cli -> render", "cli -> request",
            "cli -> sandbox", "cli -> transport", "compose -> render", "compose -> request", "config -> auth",
            "config -> channel", "config -> compose", "config -> ops", "config -> outcome", "config -> render",
            "config -> request", "config -> sandbox", "config -> text", "config -> transport", "doctor -> auth",
            "doctor -> config", "doctor -> outcome", "doctor -> text", "doctor -> transport", "ops -> auth",
            "ops -> channel", "ops -> outcome", "ops -> text", "ops -> transport", "outcome -> auth",
            "outcome -> config", "outcome -> request", "outcome -> text", "outcome -> transport", "render -> config",
            "render -> request", "render -> text", "request -> config", "request -> text", "sandbox -> auth",
            "transport -> auth", "transport -> compose", "transport -> config", "transport -> outcome",
            "transport -> request", "transport -> text");

    @Test
    void no_new_dependency_between_packages() {
        JavaClasses classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages(ROOT);
        Set<String> edges = new TreeSet<>();
        for (JavaClass type : classes) {
            for (Dependency dependency : type.getDirectDependenciesFromSelf()) {
                JavaClass target = dependency.getTargetClass();
                if (target.getPackageName().startsWith(ROOT)) {
                    String from = slice(type);
                    String to = slice(target);
                    if (!from.equals(to)) {
                        edges.add(from + " -> " + to);
                    }
                }
            }
        }
        assertThat(edges).as("dependencies between packages (a new one may close a cycle; the restructuring removes "
                + "them, one way only)").containsExactlyInAnyOrderElementsOf(KNOWN);
    }

    private static String slice(JavaClass type) {
        String rest = type.getPackageName().equals(ROOT) ? "" : type.getPackageName().substring(ROOT.length() + 1);
        return rest.isEmpty() ? "." : rest.split("\\.")[0];
    }
}
