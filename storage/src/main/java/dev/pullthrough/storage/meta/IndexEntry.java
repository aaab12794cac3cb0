package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;

/** What the cache holds under a digest, how large it is, and when it was last used (epoch millis). */
public record IndexEntry(Digest digest, Kind kind, long size, long lastAccessMillis) {
    /** Blobs live in files, manifests in the metadata store. */
    public enum Kind { BLOB, MANIFEST }
}
