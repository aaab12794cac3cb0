/**
 * Maintenance of the cache: the size bound (least-recently-used eviction), recovery after an
 * interrupted run, and fsck. What keeps the blob files and the index within bounds and in agreement.
 */
package dev.pullthrough.storage.maintenance;
