package dev.mailgate.request;

import java.util.List;
import java.util.stream.Collectors;

/** The request cannot be sent as it is; every problem found is listed, not just the first. */
public class InvalidRequestException extends RuntimeException {

    private final List<Problem> problems;
    private final MailRequest partial;

    public InvalidRequestException(List<Problem> problems) {
        this(problems, null);
    }

    /** @param partial what could be read despite the problems, so the validator can add its own findings */
    public InvalidRequestException(List<Problem> problems, MailRequest partial) {
        super(problems.stream().map(Problem::toString).collect(Collectors.joining("; ")), null, false, false);
        this.problems = List.copyOf(problems);
        this.partial = partial;
    }

    public InvalidRequestException(String field, String message) {
        this(List.of(new Problem(field, message)));
    }

    public List<Problem> problems() {
        return problems;
    }

    /** The request as far as it could be read, or {@code null}. */
    public MailRequest partial() {
        return partial;
    }
}
