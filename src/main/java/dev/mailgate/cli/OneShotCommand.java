package dev.mailgate.cli;

import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** What {@code send}, {@code token} and {@code doctor} share: {@code --verbose}, {@code --set}, their output. */
abstract class OneShotCommand {

    @Spec
    CommandSpec spec;

    @Option(names = "--verbose", order = 100, description = "Show the libraries' log lines (on standard error).")
    boolean verbose;

    @Mixin
    Overrides overrides;

    @ParentCommand
    Cli parent;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** {@code --json} output: one indented document. */
    static String json(Object value) throws JsonProcessingException {
        return JSON.writeValueAsString(value);
    }

    /** The {@code --set} values, given before or after the command's name. */
    Map<String, String> settings() {
        return overrides.over(parent);
    }
}
