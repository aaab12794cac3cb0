package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Digests found larger than the cache takes, so that the next client of one goes straight to a
 * pass-through: a body without a length is not downloaded again up to the bound (evicting for bytes
 * that will not be kept) only to be cut over once more. A digest names the same bytes for ever, so
 * the memory lasts as long as the process (bounded: the oldest are forgotten first).
 */
final class OversizedBlobs {
    private static final int REMEMBERED = 10_000;

    private final Map<Digest, Boolean> digests = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Digest, Boolean> eldest) {
            return size() > REMEMBERED;
        }
    };

    synchronized void add(Digest digest) {
        digests.put(digest, Boolean.TRUE);
    }

    synchronized boolean contains(Digest digest) {
        return digests.get(digest) != null;
    }
}
