package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Which blobs are being served or downloaded right now: eviction leaves those alone. */
public final class BlobLeases {
    private final ConcurrentHashMap<Digest, AtomicInteger> holders = new ConcurrentHashMap<>();

    /** Marks {@code digest} in use; the returned action (call it once) ends that use. */
    public Runnable acquire(Digest digest) {
        holders.compute(digest, (d, count) -> {
            AtomicInteger value = count == null ? new AtomicInteger() : count;
            value.incrementAndGet();
            return value;
        });
        boolean[] released = {false};
        return () -> {
            synchronized (released) {
                if (released[0]) {
                    return;
                }
                released[0] = true;
            }
            holders.computeIfPresent(digest, (d, count) -> count.decrementAndGet() == 0 ? null : count);
        };
    }

    public boolean inUse(Digest digest) {
        return holders.containsKey(digest);
    }
}
