package dev.pullthrough.proxy;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * One conversation with the upstream per key at a time (a tag, say), so that clients arriving
 * together cost one upstream request: the second re-reads the cache the first just filled. A
 * fixed set of stripes keeps memory flat whatever the number of keys; two keys may share one.
 */
final class KeyedLocks {
    private final ReentrantLock[] stripes;

    KeyedLocks(int stripes) {
        this.stripes = new ReentrantLock[stripes];
        for (int i = 0; i < stripes; i++) {
            this.stripes[i] = new ReentrantLock();
        }
    }

    <T> T withLock(String key, Supplier<T> action) {
        ReentrantLock lock = stripes[Math.floorMod(key.hashCode(), stripes.length)];
        lock.lock();
        try {
            return action.get();
        } finally {
            lock.unlock();
        }
    }
}
