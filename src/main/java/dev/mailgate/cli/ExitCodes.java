package dev.mailgate.cli;

/**
 * sysexits.h codes, so that scripts (and anything that used to call {@code sendmail}) can tell a usage error from
 * a bad request, a refused recipient, a temporary failure and a broken configuration.
 */
public final class ExitCodes {

    public static final int OK = 0;
    /** The command line is wrong. */
    public static final int USAGE = 64;
    /** The mail request is invalid (a field is missing or wrong). */
    public static final int DATAERR = 65;
    /** A file named on the command line does not exist or cannot be read. */
    public static final int NOINPUT = 66;
    /** The server refused a recipient address. */
    public static final int NOUSER = 67;
    /** The server or Entra ID cannot be reached, or refused the message for good. */
    public static final int UNAVAILABLE = 69;
    /** Mailgate itself failed. */
    public static final int SOFTWARE = 70;
    /** A temporary failure: try again later (sendmail's "deferred"). */
    public static final int TEMPFAIL = 75;
    /** The app or mailbox may not send (authentication refused). */
    public static final int NOPERM = 77;
    /** A setting is wrong. */
    public static final int CONFIG = 78;

    private ExitCodes() {
    }
}
