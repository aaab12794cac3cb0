package dev.pullthrough.upstream;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/** The result of one connectivity check of one upstream (issue 27): every step in order, tried or skipped. */
public record UpstreamCheck(String upstream, String url, Instant startedAt, Duration took, List<CheckStep> steps) {
    public UpstreamCheck {
        steps = List.copyOf(steps);
    }

    /** Whether the upstream answered every step: what a pull needs works. */
    public boolean passed() {
        return steps.stream().allMatch(step -> step.outcome() == CheckStep.Outcome.OK);
    }

    /** The step that failed, if one did (the later ones were skipped). */
    public Optional<CheckStep> failure() {
        return steps.stream().filter(CheckStep::failed).findFirst();
    }
}
