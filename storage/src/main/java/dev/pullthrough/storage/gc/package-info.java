/** Keeping the cache healthy: the size bound (LRU eviction), start-up recovery, and fsck. */
package dev.pullthrough.storage.gc;
