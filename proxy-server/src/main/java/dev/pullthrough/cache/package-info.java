/** Caffeine layers in front of the persistent metadata store. */
package dev.pullthrough.cache;
