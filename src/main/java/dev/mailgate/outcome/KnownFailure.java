package dev.mailgate.outcome;

/**
 * A failure whose meaning the code that found it already knows, with its own reason and advice (an outbox entry that is
 * a link or a FIFO): the {@link dev.mailgate.policy.FailureClassifier} passes it on as it is, instead of guessing from an exception.
 */
public final class KnownFailure extends RuntimeException {

    private final transient Failure failure;

    public KnownFailure(Failure failure) {
        super(failure.reason(), null, false, false);
        this.failure = failure;
    }

    public Failure failure() {
        return failure;
    }
}
