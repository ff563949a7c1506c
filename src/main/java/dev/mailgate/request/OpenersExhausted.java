package dev.mailgate.request;

/**
 * A file of a request was not opened because earlier opens in its folder never returned (files swapped for FIFOs
 * that nobody writes to hold their opener threads until a restart; see {@link BoundedOpen}). Not the request's fault,
 * so it is not an invalid request: it is tried again later, as a temporary failure.
 */
public final class OpenersExhausted extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public OpenersExhausted(String message) {
        super(message, null, false, false);
    }
}
