package dev.pullthrough.app;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The signals that stop {@code serve} (issue 30): the first asks for a graceful stop, a second one to
 * cut it short. Thread-safe: signals arrive on the JVM's signal thread, the stop runs on another.
 */
public final class StopRequests {
    private static final Logger LOG = LoggerFactory.getLogger(StopRequests.class);

    private final CountDownLatch stop = new CountDownLatch(1);
    private final CountDownLatch hurry = new CountDownLatch(1);
    private final AtomicInteger signals = new AtomicInteger();
    private volatile long firstNanos;
    private volatile String firstSignal = "";
    private final Runnable onFirstSignal;

    /**
     * {@code onFirstSignal} runs on the signal's own thread, before anyone waiting is woken: it must
     * be quick (the listeners' draining flag, so that /readyz says 503 without waiting for the stop's thread).
     */
    public StopRequests(Runnable onFirstSignal) {
        this.onFirstSignal = onFirstSignal;
    }

    /** A stop signal arrived ({@code name}: SIGTERM, SIGINT); returns at once. */
    public void signalled(String name) {
        int count = signals.incrementAndGet();
        if (count == 1) {
            firstNanos = System.nanoTime();
            firstSignal = name;
            onFirstSignal.run();
            stop.countDown();
        } else if (count == 2) {
            LOG.warn("stop: a second {}: stopping at once", name);
            hurry.countDown();
        }
    }

    /** Blocks until the first signal. */
    public void awaitStop() throws InterruptedException {
        stop.await();
    }

    /** When the first signal arrived ({@link System#nanoTime}); the drain's deadlines count from it. */
    long firstAt() {
        return firstNanos;
    }

    String firstSignal() {
        return firstSignal;
    }

    boolean hurried() {
        return hurry.getCount() == 0;
    }

    /** Waits until {@code nanoTime} reaches {@code until} or a second signal comes; returns whether it came. */
    boolean hurriedBefore(long until) {
        long left = until - System.nanoTime();
        try {
            return left <= 0 ? hurried() : hurry.await(left, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return true;
        }
    }
}
