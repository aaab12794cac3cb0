package dev.pullthrough.upstream;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connectivity checks of every upstream run in the background (issue 27), for {@code GET
 * /upstreams.json} and the status page: the first as soon as {@link #runIfDue} is first called, then
 * one {@link #interval} after the previous one ended, never two at once. Keeps the last result of
 * each upstream. A check going from passing to failing (or back) is logged once, not at every run.
 * Time comes from the given clock, so tests move it.
 */
public final class UpstreamChecks {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamChecks.class);
    private final List<UpstreamProbe> probes;
    private final Duration interval;
    private final Clock clock;
    private final Map<String, UpstreamCheck> last = new ConcurrentHashMap<>();
    private boolean running;
    private Instant lastEnded;
    private int runs;

    public UpstreamChecks(List<UpstreamProbe> probes, Duration interval, Clock clock) {
        this.probes = List.copyOf(probes);
        this.interval = interval;
        this.clock = clock;
    }

    /**
     * Starts a run of every upstream's check when one is due (none yet, or {@link #interval} passed
     * since the last ended) and none is running; returns at once either way (the checks are asynchronous).
     */
    public synchronized boolean runIfDue() {
        if (running || lastEnded != null && clock.instant().isBefore(lastEnded.plus(interval))) {
            return false;
        }
        running = true;
        runs++;
        List<CompletableFuture<Void>> checks = new ArrayList<>();
        for (UpstreamProbe probe : probes) {
            checks.add(probe.run().thenAccept(this::keep));
        }
        CompletableFuture.allOf(checks.toArray(CompletableFuture[]::new)).whenComplete((done, failure) -> ended());
        return true;
    }

    private void keep(UpstreamCheck check) {
        UpstreamCheck before = last.put(check.upstream(), check);
        if (!check.passed() && (before == null || before.passed())) {
            CheckStep failed = check.failure().orElse(check.steps().get(0));
            LOG.warn("upstream {} fails its connectivity check at step {}: {}", check.upstream(), failed.name(), failed.detail());
        } else if (check.passed() && before != null && !before.passed()) {
            LOG.info("upstream {} passes its connectivity check again", check.upstream());
        }
    }

    private synchronized void ended() {
        running = false;
        lastEnded = clock.instant();
    }

    /** The last result of each upstream that has been checked, in the configured order. */
    public List<UpstreamCheck> last() {
        return probes.stream().map(p -> last.get(p.upstream())).filter(java.util.Objects::nonNull).toList();
    }

    /** The last result of {@code upstream}, if it has been checked. */
    public Optional<UpstreamCheck> last(String upstream) {
        return Optional.ofNullable(last.get(upstream));
    }

    /** The upstreams checked, in the configured order. */
    public List<String> upstreams() {
        return probes.stream().map(UpstreamProbe::upstream).toList();
    }

    public Duration interval() {
        return interval;
    }

    /** Runs started so far. */
    public synchronized int runs() {
        return runs;
    }

    /** When the next run is due: empty while one runs or before the first. */
    public synchronized Optional<Instant> nextRun() {
        return running || lastEnded == null ? Optional.empty() : Optional.of(lastEnded.plus(interval));
    }
}
