package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;
import java.util.Optional;

/**
 * What of the metadata is in memory right now: lookups that never touch the disk, so they may run
 * on an event loop. Empty means "not in memory", not "not cached".
 */
public interface HotMetadata {
    Optional<StoredManifest> hotManifest(Digest digest);

    Optional<TagResolution> hotTag(TagKey key);

    /** True when memory knows the repository holds the digest; false means "ask the store". */
    boolean hotLinked(String upstream, String repository, Digest digest);

    /** Nothing in memory: every lookup goes the slow way. */
    HotMetadata NONE = new HotMetadata() {
        @Override
        public Optional<StoredManifest> hotManifest(Digest digest) {
            return Optional.empty();
        }

        @Override
        public Optional<TagResolution> hotTag(TagKey key) {
            return Optional.empty();
        }

        @Override
        public boolean hotLinked(String upstream, String repository, Digest digest) {
            return false;
        }
    };
}
