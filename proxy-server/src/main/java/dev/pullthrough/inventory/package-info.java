/**
 * What the cache holds, as operators see it: cached images with their tags, size and pulls
 * ({@link dev.pullthrough.inventory.CacheInventory}), and their removal
 * ({@link dev.pullthrough.inventory.CachePurge}). Blocking (scans of the metadata store); callers run
 * them off the event loop.
 */
package dev.pullthrough.inventory;
