package dev.pullthrough.e2e;

import java.time.Duration;

/** Waiting on a condition, never on a fixed sleep: a slow machine waits longer, a fast one not at all. */
final class Await {
    private Await() {}

    /** A condition that may throw (an HTTP request, a file count). */
    interface Condition {
        boolean holds() throws Exception;
    }

    /** Polls {@code condition} every 20 ms until it holds; fails naming {@code what} after {@code limit}. */
    static void until(Condition condition, Duration limit, String what) throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + limit.toSeconds() + " s: " + what);
            }
            Thread.sleep(20);
        }
    }
}
