package dev.pullthrough.proxy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.pullthrough.oci.Digest;
import java.util.concurrent.atomic.LongAdder;

/**
 * Manifest GETs answered per repository and digest since the proxy started (HEADs are not pulls,
 * as Docker Hub counts them). In memory, bounded: the least used counts go first when more
 * manifests were pulled than {@link #MAX_COUNTED}.
 */
public final class PullCounts {
    static final long MAX_COUNTED = 100_000;
    private final Cache<String, LongAdder> counts = Caffeine.newBuilder().maximumSize(MAX_COUNTED).build();

    public void pulled(String upstream, String repository, Digest digest) {
        counts.get(key(upstream, repository, digest), k -> new LongAdder()).increment();
    }

    public long pulls(String upstream, String repository, Digest digest) {
        LongAdder count = counts.getIfPresent(key(upstream, repository, digest));
        return count == null ? 0 : count.sum();
    }

    public void forget(String upstream, String repository, Digest digest) {
        counts.invalidate(key(upstream, repository, digest));
    }

    private static String key(String upstream, String repository, Digest digest) {
        return upstream + '\0' + repository + '\0' + digest;
    }
}
