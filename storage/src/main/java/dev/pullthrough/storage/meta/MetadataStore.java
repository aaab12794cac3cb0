package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;
import java.util.Optional;

/** Manifests by digest and tag resolutions, persisted. Implementations are thread-safe and block on disk. */
public interface MetadataStore extends AutoCloseable {
    Optional<StoredManifest> manifest(Digest digest);

    void putManifest(StoredManifest manifest);

    /** Stores a manifest and the tag resolution that led to it, atomically. */
    void putManifestAndTag(StoredManifest manifest, TagKey tag, TagResolution resolution);

    Optional<TagResolution> tag(TagKey key);

    void putTag(TagKey key, TagResolution resolution);

    @Override
    void close();
}
