package dev.mailgate.doctor;

import java.util.List;

/**
 * One step of the doctor's walk and what it found.
 *
 * @param step        the step's stable name ({@code configuration}, {@code dns}, {@code tcp}, {@code starttls},
 *                    {@code tls}, {@code ehlo}, {@code token}, {@code claims}, {@code auth}, {@code sender},
 *                    {@code send})
 * @param summary     what was seen, in one line
 * @param cause       for a failure or warning: the likely cause
 * @param fix         for a failure or warning: the exact fix (setting, portal step or PowerShell command)
 * @param transcript  the SMTP lines of this step ({@code C:} client, {@code S:} server), the token redacted
 * @param unreachable the failure is about reaching the server at all (network), not about the tenant
 */
public record Check(String step, Status status, String summary, String cause, String fix, List<String> transcript,
        boolean unreachable) {

    public enum Status { PASS, WARN, FAIL, SKIP }

    public Check {
        transcript = transcript == null ? List.of() : List.copyOf(transcript);
    }

    static Check pass(String step, String summary, List<String> transcript) {
        return new Check(step, Status.PASS, summary, null, null, transcript, false);
    }

    static Check warn(String step, String summary, String cause, String fix, List<String> transcript) {
        return new Check(step, Status.WARN, summary, cause, fix, transcript, false);
    }

    static Check fail(String step, String summary, String cause, String fix, List<String> transcript) {
        return new Check(step, Status.FAIL, summary, cause, fix, transcript, false);
    }

    static Check unreachable(String step, String summary, String cause, String fix, List<String> transcript) {
        return new Check(step, Status.FAIL, summary, cause, fix, transcript, true);
    }

    static Check skip(String step, String why) {
        return new Check(step, Status.SKIP, why, null, null, List.of(), false);
    }
}
