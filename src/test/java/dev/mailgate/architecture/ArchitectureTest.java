package dev.mailgate.architecture;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
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
 * The package structure, read from the compiled classes with ArchUnit: which of Mailgate's packages uses which. The
 * entry point ({@code dev.mailgate}) is on top, then {@code cli} and {@code app} (the wiring), the features, and
 * {@code config} (settings) and {@code text} at the bottom, importing nothing of Mailgate's; {@code policy} (what a
 * failure means and what happens next) sits above {@code transport} and {@code outcome}. There is no cycle. The
 * dependencies that exist are listed, and a new one fails the test (as does a listed one that is gone, so that the
 * list only ever shrinks): a change of layers is a change of this list, made on purpose.
 */
class ArchitectureTest {

    private static final String ROOT = "dev.mailgate";

    /**
     * {@code from -> to}: today's dependencies between the packages right below dev.mailgate ({@code .}: the root,
     * the entry point; nothing depends on it any more).
     */
    private static final Set<String> KNOWN = Set.of(
            ". -> app", ". -> cli", ". -> text", "app -> auth", "app -> channel", "app -> compose", "app -> config",
            "app -> ops", "app -> outcome", "app -> policy", "app -> render", "app -> request", "app -> sandbox",
            "app -> text", "app -> transport", "auth -> config", "auth -> text", "channel -> config",
            "channel -> outcome", "channel -> render", "channel -> request", "channel -> text", "cli -> app",
            "cli -> auth", "cli -> compose", "cli -> config", "cli -> doctor", "cli -> outcome", "cli -> policy",
            "cli -> render", "cli -> request", "cli -> sandbox", "cli -> transport", "compose -> render",
            "compose -> request", "doctor -> auth", "doctor -> config", "doctor -> outcome", "doctor -> policy",
            "doctor -> text", "doctor -> transport", "ops -> auth", "ops -> channel", "ops -> outcome",
            "ops -> text", "ops -> transport", "outcome -> request", "outcome -> text", "policy -> auth",
            "policy -> config", "policy -> outcome", "policy -> request", "policy -> text", "policy -> transport",
            "render -> config", "render -> request", "render -> text", "request -> config", "request -> text",
            "sandbox -> auth", "sandbox -> config", "transport -> auth", "transport -> compose", "transport -> config",
            "transport -> outcome", "transport -> request", "transport -> text");

    /** No package cycle at all; a new one fails, naming the classes that close it. */
    @Test
    void packages_are_free_of_cycles() {
        JavaClasses classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages(ROOT);
        slices().matching("dev.mailgate.(*)..").should().beFreeOfCycles().check(classes);
    }

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
