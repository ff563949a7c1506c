package dev.mailgate.cli;

import java.util.LinkedHashMap;
import java.util.Map;

import picocli.CommandLine.Option;

/** {@code --set key=value}: any setting for this run only, over files and environment variables. */
final class Overrides {

    @Option(names = "--set", paramLabel = "KEY=VALUE", mapFallbackValue = "", order = 101,
            description = "Override a setting for this run (repeatable), e.g. --set mailgate.sender=app@contoso.com")
    Map<String, String> values = new LinkedHashMap<>();

    Map<String, String> map() {
        return values == null ? Map.of() : Map.copyOf(values);
    }

    /**
     * These values over the ones given before the command name ({@code mailgate --set k=v doctor}): either place
     * counts, the command's own wins.
     */
    Map<String, String> over(Cli parent) {
        Map<String, String> merged = new LinkedHashMap<>(parent == null ? Map.of() : parent.overrides.map());
        merged.putAll(map());
        return Map.copyOf(merged);
    }
}
