package dev.pullthrough.proxy;

import dev.pullthrough.config.UpstreamTimeouts;
import java.util.OptionalLong;

/**
 * The floor under an upstream blob transfer: fewer than {@code blobMinRate} bytes a second over a
 * whole {@code blobRateWindow} ends it, a silent upstream as surely as a trickling one. One
 * mechanism for the downloads into the cache and the pass-throughs beside it (issue 26).
 */
final class RateFloor {
    private final UpstreamTimeouts limits;
    private long windowStartNanos;
    private long windowStartBytes;

    RateFloor(UpstreamTimeouts limits, long nowNanos) {
        this.limits = limits;
        this.windowStartNanos = nowNanos;
    }

    /** A new window from now, from {@code received} bytes on (the body started). */
    synchronized void restart(long nowNanos, long received) {
        windowStartNanos = nowNanos;
        windowStartBytes = received;
    }

    /**
     * Empty while the transfer keeps up (a whole window that met the floor starts the next one);
     * else the bytes it sent in the window that fell short. Called periodically.
     */
    synchronized OptionalLong shortfall(long nowNanos, long received) {
        if (nowNanos - windowStartNanos < limits.blobRateWindow().toNanos()) {
            return OptionalLong.empty();
        }
        long sent = received - windowStartBytes;
        if (sent >= limits.blobMinRate() * limits.blobRateWindow().toSeconds()) {
            windowStartNanos = nowNanos;
            windowStartBytes = received;
            return OptionalLong.empty();
        }
        return OptionalLong.of(sent);
    }

    /** Why a transfer of {@code what} was cut, naming the limit. */
    String describe(long sent, String what) {
        return "sent " + sent + " bytes of " + what + " in " + limits.blobRateWindow().toSeconds()
                + "s, below upstreams[].blobMinRate (" + limits.blobMinRate() + " B/s over blobRateWindow "
                + limits.blobRateWindow().toSeconds() + "s)";
    }
}
