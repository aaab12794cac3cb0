package dev.pullthrough.app;

import dev.pullthrough.config.Durations;
import dev.pullthrough.server.RegistryServer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stop on SIGTERM (issue 30), one log line per phase: not ready at once, the listeners accepting
 * for {@code server.drainDelay} while the load balancer stops routing here, then responses in
 * flight (pulls, peer streams) and downloads with their commits finishing until
 * {@code server.drainTimeout} after the signal. A second signal or the timeout cuts it short; the
 * caller then closes the storage either way, so what was committed stays.
 */
final class GracefulStop {
    private static final Logger LOG = LoggerFactory.getLogger(GracefulStop.class);
    /** How often the drain looks whether what it waits for has ended. */
    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private final RegistryServer server;
    private final ProxyCore core;
    private final Duration delay;
    private final Duration timeout;

    GracefulStop(RegistryServer server, ProxyCore core, Duration delay, Duration timeout) {
        this.server = server;
        this.core = core;
        this.delay = delay;
        this.timeout = timeout;
    }

    /** Runs the drain; returns whether it finished (false: cut short, something was still in flight). */
    boolean run(StopRequests stop) {
        long signalled = stop.firstAt();
        long deadline = signalled + timeout.toNanos();
        server.startDraining();
        LOG.info("stop 1/4: {}: draining; /readyz answers 503, every response closes its connection; the listeners accept"
                + " for {} (server.drainDelay)", stop.firstSignal(), Durations.format(delay));
        if (stop.hurriedBefore(signalled + delay.toNanos())) {
            return cut("a second signal");
        }
        int idle = server.stopAccepting();
        LOG.info("stop 2/4: listeners closed, {} closed; {} in flight, given until {} after the signal (server.drainTimeout)",
                count(idle, "idle connection"), count(server.responsesInFlight(), "response"), Durations.format(timeout));
        if (!waitUntil(() -> server.responsesInFlight() == 0, deadline, stop)) {
            return cut(stop.hurried() ? "a second signal" : "server.drainTimeout " + Durations.format(timeout) + " reached");
        }
        LOG.info("stop 3/4: every response written; waiting for {} to commit and {} to the bucket",
                count(core.blobs.downloadsInFlight(), "download"), count(core.pendingBucketWrites(), "write"));
        if (!waitUntil(() -> core.blobs.downloadsInFlight() == 0 && core.pendingBucketWrites() == 0, deadline, stop)) {
            return cut(stop.hurried() ? "a second signal" : "server.drainTimeout " + Durations.format(timeout) + " reached");
        }
        LOG.info("stop 4/4: drained in {} ms; closing the storage", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled));
        return true;
    }

    /** Polls {@code done} until it holds; false when the deadline passes or a second signal comes first. */
    private static boolean waitUntil(BooleanSupplier done, long deadline, StopRequests stop) {
        while (!done.getAsBoolean()) {
            if (System.nanoTime() >= deadline || stop.hurriedBefore(Math.min(deadline, System.nanoTime() + POLL_NANOS))) {
                return done.getAsBoolean();
            }
        }
        return true;
    }

    private boolean cut(String why) {
        LOG.warn("stop: {}: cutting {}, {} and {} to the bucket still in flight; what was committed is kept", why,
                count(server.responsesInFlight(), "response"), count(core.blobs.downloadsInFlight(), "download"),
                count(core.pendingBucketWrites(), "write"));
        return false;
    }

    /** "1 response", "0 responses": an operator reads these lines. */
    static String count(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }
}
