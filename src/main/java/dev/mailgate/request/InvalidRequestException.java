package dev.mailgate.request;

import java.util.List;
import java.util.stream.Collectors;

/** The request cannot be sent as it is; every problem found is listed, not just the first. */
public class InvalidRequestException extends RuntimeException {

    private final List<Problem> problems;

    public InvalidRequestException(List<Problem> problems) {
        super(problems.stream().map(Problem::toString).collect(Collectors.joining("; ")), null, false, false);
        this.problems = List.copyOf(problems);
    }

    public InvalidRequestException(String field, String message) {
        this(List.of(new Problem(field, message)));
    }

    public List<Problem> problems() {
        return problems;
    }
}
