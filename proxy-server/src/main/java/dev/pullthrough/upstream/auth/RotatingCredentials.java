package dev.pullthrough.upstream.auth;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Credentials that change (issue 27): what a {@link Loader} gives (a credential helper's answer, a
 * password file), used for a TTL and loaded again after a refusal, once per burst of refusals,
 * never once per request. One load at a time, shared by every request that needs it meanwhile; the
 * load runs on the given executor, never on the caller's thread (an event loop).
 */
public final class RotatingCredentials implements CredentialSource {
    /**
     * After a load a refusal caused, further refusals within this long reuse its answer, unless the
     * upstream accepted it meanwhile: a secret that is wrong at its source costs one load per window,
     * not one per request.
     */
    public static final Duration BURST = Duration.ofSeconds(30);

    /**
     * A failed load is the answer for this long: a helper that fails at once is not run again for
     * every request of a burst (each gets the same clear failure).
     */
    public static final Duration FAILURE_HOLD = Duration.ofSeconds(5);

    /** Gets the credentials now, blocking (runs a process, reads a file). */
    @FunctionalInterface
    public interface Loader {
        Credentials load() throws CredentialFailure;
    }

    /** An answer of the loader, when it came, and whether a refusal asked for it. */
    private record Answer(Credentials credentials, long loadedAtMillis, boolean afterRefusal) {}

    private final Loader loader;
    private final Duration ttl;
    private final Clock clock;
    private final Executor executor;
    private volatile Answer answer;
    private CompletableFuture<Answer> loading;
    /** The last failed load and when it failed, answered again within {@link #FAILURE_HOLD}. */
    private CompletableFuture<Answer> failed;
    private long failedAtMillis;

    /** {@code initial}: what is known already (a password file read at start), used until its TTL passes. */
    public RotatingCredentials(Loader loader, Optional<Credentials> initial, Duration ttl, Clock clock, Executor executor) {
        this.loader = loader;
        this.ttl = ttl;
        this.clock = clock;
        this.executor = executor;
        this.answer = initial.map(c -> new Answer(c, clock.millis(), false)).orElse(null);
    }

    @Override
    public boolean configured() {
        return true;
    }

    @Override
    public synchronized CompletableFuture<Optional<Credentials>> current() {
        if (answer != null && clock.millis() - answer.loadedAtMillis() < ttl.toMillis()) {
            return CompletableFuture.completedFuture(Optional.of(answer.credentials()));
        }
        return load(false);
    }

    @Override
    public synchronized CompletableFuture<Optional<Credentials>> afterRefusal(Optional<Credentials> refused) {
        if (loading != null || answer == null) {
            return load(true);
        }
        boolean newerKnown = refused.isPresent() && !refused.get().equals(answer.credentials());
        long window = Math.min(BURST.toMillis(), ttl.toMillis());
        boolean loadedForThisBurst = answer.afterRefusal() && clock.millis() - answer.loadedAtMillis() < window;
        if (newerKnown || loadedForThisBurst) {
            return CompletableFuture.completedFuture(Optional.of(answer.credentials()));
        }
        return load(true);
    }

    @Override
    public void accepted(Credentials used) {
        Answer known = answer;
        if (known == null || !known.afterRefusal() || !known.credentials().equals(used)) {
            return; // the common case, on every request: no lock
        }
        synchronized (this) {
            if (answer == known) {
                answer = new Answer(known.credentials(), known.loadedAtMillis(), false); // the burst is over
            }
        }
    }

    /** The load in flight, or a new one; its answer is kept before any caller sees it. */
    private CompletableFuture<Optional<Credentials>> load(boolean afterRefusal) {
        CompletableFuture<Answer> run = loading;
        if (run == null && failed != null && clock.millis() - failedAtMillis < FAILURE_HOLD.toMillis()) {
            run = failed;
        }
        if (run == null) {
            CompletableFuture<Answer> started = new CompletableFuture<>();
            run = started;
            loading = started;
            try {
                executor.execute(() -> run(started, afterRefusal));
            } catch (RuntimeException e) { // the executor is shutting down
                loading = null;
                started.completeExceptionally(e);
            }
        }
        return run.thenApply(a -> Optional.of(a.credentials()));
    }

    /** One load. A failed one keeps nothing: the next request tries again (sharing that try with the others then). */
    private void run(CompletableFuture<Answer> run, boolean afterRefusal) {
        Answer loaded;
        try {
            loaded = new Answer(loader.load(), clock.millis(), afterRefusal);
        } catch (CredentialFailure | RuntimeException e) {
            synchronized (this) {
                loading = null;
                failed = run;
                failedAtMillis = clock.millis();
            }
            run.completeExceptionally(e);
            return;
        }
        synchronized (this) {
            loading = null;
            answer = loaded;
        }
        run.complete(loaded);
    }
}
