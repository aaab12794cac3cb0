package dev.pullthrough.upstream;

import java.time.Duration;
import java.time.Instant;
import java.util.Locale;

/**
 * One step of an upstream's connectivity check (issue 27): its name ({@code dns}, {@code connect},
 * {@code proxy}, {@code tls}, {@code challenge}, {@code token}, {@code rate limit}), how it went, what
 * was found or why it failed (never a secret), when it ended and how long it took.
 */
public record CheckStep(String name, Outcome outcome, String detail, Instant at, Duration took) {
    /** How a step went; {@code SKIPPED}: an earlier step failed, so this one was not tried. */
    public enum Outcome {
        OK, FAILED, SKIPPED;

        /** As the check prints it and {@code /upstreams.json} says it. */
        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public boolean failed() {
        return outcome == Outcome.FAILED;
    }
}
