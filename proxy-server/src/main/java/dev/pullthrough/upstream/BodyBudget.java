package dev.pullthrough.upstream;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The heap that upstream bodies held whole (manifests, tag lists, referrers) may take at once, in
 * bytes (issue 26: sixteen 4 MiB manifests at once took a 128 MiB heap). A body reserves its
 * weight before it is read; past the budget, requests wait their turn in order of arrival, up to a
 * deadline, and are then refused as busy. A body larger than the whole budget is refused at once.
 * Nothing here blocks a thread: a reservation is a future.
 */
public final class BodyBudget {
    /** Bytes of the budget held by one body until {@link #close()}; closing twice releases once. */
    public interface Permit extends AutoCloseable {
        /** A permit of nothing: bodies that did not come through the budget (the bucket, tests). */
        Permit NONE = () -> {};

        @Override
        void close();
    }

    /** The budget stayed full for as long as a request may wait: answer busy, try again later. */
    public static final class Exhausted extends Exception {
        Exhausted(String message) {
            super(message, null, false, false);
        }
    }

    /** A body that does not fit in the whole budget. */
    public static final class TooLarge extends Exception {
        TooLarge(String message) {
            super(message, null, false, false);
        }
    }

    private record Waiter(long bytes, CompletableFuture<Permit> granted) {}

    private final long capacity;
    private final ArrayDeque<Waiter> waiting = new ArrayDeque<>();
    private long used;

    public BodyBudget(long capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("a body budget of " + capacity + " bytes");
        }
        this.capacity = capacity;
    }

    /**
     * An eighth of the heap (16 MiB under jvm.options): what is left holds the hot manifests, the
     * cached listings and the proxy itself, and leaves the heap room to shrink back after a burst.
     */
    public static BodyBudget eighthOfHeap() {
        return new BodyBudget(Runtime.getRuntime().maxMemory() / 8);
    }

    public long capacity() {
        return capacity;
    }

    /** Bytes reserved now. */
    public synchronized long used() {
        return used;
    }

    /** Requests waiting for room now. */
    public synchronized int waiting() {
        return waiting.size();
    }

    /**
     * Reserves {@code bytes}: at once when they fit and nobody waits before this request, else when
     * enough is released, else after {@code patience} fails with {@link Exhausted}; fails with
     * {@link TooLarge} when they exceed the whole budget.
     */
    public CompletableFuture<Permit> reserve(long bytes, Duration patience) {
        if (bytes > capacity) {
            return CompletableFuture.failedFuture(new TooLarge(bytes + " bytes do not fit the proxy's memory budget for"
                    + " upstream bodies (" + capacity + " bytes, an eighth of the heap: -Xmx in jvm.options)"));
        }
        Waiter waiter;
        synchronized (this) {
            if (waiting.isEmpty() && used + bytes <= capacity) {
                used += bytes;
                return CompletableFuture.completedFuture(permit(bytes));
            }
            waiter = new Waiter(bytes, new CompletableFuture<>());
            waiting.add(waiter);
        }
        CompletableFuture.delayedExecutor(patience.toMillis(), TimeUnit.MILLISECONDS).execute(() -> giveUp(waiter, patience));
        return waiter.granted();
    }

    private void giveUp(Waiter waiter, Duration patience) {
        boolean removed;
        synchronized (this) {
            removed = waiting.remove(waiter);
        }
        if (removed) {
            waiter.granted().completeExceptionally(new Exhausted("the proxy's memory for upstream bodies (" + capacity
                    + " bytes) stayed taken by other requests for " + patience.toSeconds() + "s"));
            grantWaiting(); // the head may have been the one that did not fit
        }
    }

    private Permit permit(long bytes) {
        return new Permit() {
            private boolean closed;

            @Override
            public void close() {
                synchronized (BodyBudget.this) {
                    if (closed) {
                        return;
                    }
                    closed = true;
                    used -= bytes;
                }
                grantWaiting();
            }
        };
    }

    /** Grants waiters in order of arrival while the first one fits; completes them outside the lock. */
    private void grantWaiting() {
        List<Waiter> granted = new ArrayList<>();
        synchronized (this) {
            while (!waiting.isEmpty() && used + waiting.peek().bytes() <= capacity) {
                Waiter next = waiting.poll();
                used += next.bytes();
                granted.add(next);
            }
        }
        for (Waiter waiter : granted) {
            Permit permit = permit(waiter.bytes());
            if (!waiter.granted().complete(permit)) {
                permit.close(); // it gave up meanwhile
            }
        }
    }
}
