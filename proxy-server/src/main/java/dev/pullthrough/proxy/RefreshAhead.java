package dev.pullthrough.proxy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;

/**
 * Which tag answers to revalidate before their TTL ends (issue 28): one that was served at least
 * {@link #HOT_HITS} times since the upstream last confirmed it, once it is within its last
 * {@linkplain #leadMillis lead} of the TTL. The revalidation runs in the background, so the clients of
 * a hot tag never wait on the upstream while a tag pulled now and then costs no request it would not
 * cost anyway. Each answer is refreshed at most once: a refresh that did not renew it (the upstream
 * failed) is not tried again before the TTL ends, and the next client then takes the usual path.
 */
final class RefreshAhead {
    /** Hits since the last confirmation that make a tag hot. */
    static final int HOT_HITS = 3;
    /** The most a refresh runs before the TTL ends; shorter TTLs refresh in their last fifth. */
    private static final long MAX_LEAD_MILLIS = 30_000;

    /** What one hit calls for. */
    record Hit(boolean refresh, boolean waitAvoided) {
        static final Hit NONE = new Hit(false, false);
    }

    /** One answer's hits since the upstream confirmed it, and whether its refresh was started. */
    private static final class Heat {
        long checkedAt = Long.MIN_VALUE;
        int hits;
        boolean started;
        /** The confirmation a refresh replaced, until the first hit past its TTL shows a wait avoided. */
        long refreshedFrom = Long.MIN_VALUE;
    }

    private final Cache<String, Heat> heat;

    RefreshAhead() {
        // An answer not served for an hour is cold (its hits restart with its next confirmation anyway).
        this.heat = Caffeine.newBuilder().expireAfterAccess(Duration.ofHours(1)).maximumSize(100_000).build();
    }

    static long leadMillis(long ttlMillis) {
        return Math.min(ttlMillis / 5, MAX_LEAD_MILLIS);
    }

    /**
     * A client was served the answer {@code key} that the upstream confirmed at {@code checkedAt}
     * (within its TTL). {@code refresh}: revalidate it now (true once per confirmation);
     * {@code waitAvoided}: this client came after the confirmation a refresh replaced had expired, so
     * without the refresh it would have waited on the upstream (true once per refresh).
     */
    Hit hit(String key, long checkedAt, long now, long ttlMillis) {
        Heat h = heat.get(key, k -> new Heat());
        synchronized (h) {
            if (h.checkedAt != checkedAt) {
                h.checkedAt = checkedAt;
                h.hits = 0;
                h.started = false;
            }
            h.hits++;
            boolean avoided = h.refreshedFrom != Long.MIN_VALUE && h.refreshedFrom != checkedAt
                    && now - h.refreshedFrom >= ttlMillis;
            if (avoided) {
                h.refreshedFrom = Long.MIN_VALUE;
            }
            long age = now - checkedAt;
            boolean refresh = !h.started && h.hits >= HOT_HITS && age >= ttlMillis - leadMillis(ttlMillis) && age < ttlMillis;
            if (refresh) {
                h.started = true;
            }
            return refresh || avoided ? new Hit(refresh, avoided) : Hit.NONE;
        }
    }

    /** The refresh started at {@code startedFor} ended; {@code renewed}: the upstream confirmed the tag again. */
    void done(String key, long startedFor, boolean renewed) {
        Heat h = heat.getIfPresent(key);
        if (h == null) {
            return;
        }
        synchronized (h) {
            h.refreshedFrom = renewed ? startedFor : Long.MIN_VALUE;
        }
    }
}
