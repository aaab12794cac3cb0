package dev.pullthrough.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.meta.ForwardingMetadataStore;
import dev.pullthrough.storage.meta.HotMetadata;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import java.util.List;
import java.util.Optional;

/**
 * Hot manifests (weighed by their bytes) and tag resolutions in memory, in front of the persistent
 * store: reads through, writes through, and forgets what is removed. A read loads a key under that
 * key's lock in memory, and a write or removal changes the store before memory: so a read racing a
 * removal can never put back what the store no longer holds, nor a read racing a write an older value.
 */
public final class CachedMetadataStore extends ForwardingMetadataStore implements HotMetadata {
    /**
     * What one hot manifest costs besides its bytes: the cache's node, the digest with its hex text,
     * the record and the array header (about 300 bytes measured on a 64-bit JVM).
     */
    private static final int MANIFEST_OVERHEAD = 320;
    private final Cache<Digest, StoredManifest> manifests;
    /**
     * Larger manifests are served from the store, not kept in memory: one would push out hundreds of
     * ordinary ones, and sixteen at the largest size an upstream may send filled the heap (issue 26).
     */
    private final long largestHot;
    private final Cache<TagKey, TagResolution> tags;
    private final Cache<String, Boolean> links;

    /**
     * What a tag entry costs beyond its strings: the key and resolution records, the digest record,
     * the String and array headers and Caffeine's node (about 350 bytes measured on a 64-bit JVM).
     */
    private static final int TAG_OVERHEAD = 400;
    /** What a link entry costs beyond its key's characters: String, array header and node. */
    private static final int LINK_OVERHEAD = 120;

    /**
     * Tags and links are weighed in bytes, not counted (issue 26): a hostile upstream answers any tag
     * and digest, and a million links of long names were more than the whole 128 MiB heap.
     */
    public CachedMetadataStore(MetadataStore store, long manifestBytes, long tagBytes) {
        super(store);
        // Upkeep (draining the access buffers, evicting) runs on the thread that read or wrote, a few
        // microseconds now and then: on the default executor every busy stretch of cache hits woke a
        // pool thread from the event loop.
        this.manifests = Caffeine.newBuilder()
                .executor(Runnable::run)
                .maximumWeight(manifestBytes)
                .weigher((Digest digest, StoredManifest manifest) -> manifest.bytes().length + MANIFEST_OVERHEAD)
                .build();
        this.largestHot = manifestBytes / 16;
        this.tags = Caffeine.newBuilder().executor(Runnable::run)
                .maximumWeight(tagBytes)
                .weigher((TagKey key, TagResolution resolution) -> TAG_OVERHEAD + key.upstream().length()
                        + key.repository().length() + key.tag().length() + key.acceptKey().length()
                        + resolution.mediaType().length() + resolution.digest().hex().length())
                .build();
        this.links = Caffeine.newBuilder().executor(Runnable::run)
                .maximumWeight(tagBytes / 2)
                .weigher((String key, Boolean linked) -> LINK_OVERHEAD + key.length())
                .build();
    }

    @Override
    public Optional<StoredManifest> hotManifest(Digest digest) {
        return Optional.ofNullable(manifests.getIfPresent(digest));
    }

    @Override
    public Optional<TagResolution> hotTag(TagKey key) {
        return Optional.ofNullable(tags.getIfPresent(key));
    }

    @Override
    public boolean hotLinked(String upstream, String repository, Digest digest) {
        return links.getIfPresent(upstream + '\0' + repository + '\0' + digest) != null;
    }

    @Override
    public boolean linked(String upstream, String repository, Digest digest) {
        // Only a purge removes links; a read racing it may keep one in memory, which is harmless:
        // a link records a fact about the upstream, not what is cached.
        if (hotLinked(upstream, repository, digest)) {
            return true;
        }
        boolean stored = store.linked(upstream, repository, digest);
        if (stored) {
            links.put(upstream + '\0' + repository + '\0' + digest, Boolean.TRUE);
        }
        return stored;
    }

    @Override
    public void link(String upstream, String repository, Digest digest) {
        if (!hotLinked(upstream, repository, digest)) {
            store.link(upstream, repository, digest);
            links.put(upstream + '\0' + repository + '\0' + digest, Boolean.TRUE);
        }
    }

    /** One write below when the link is new; the index entry alone when memory knows the link already. */
    @Override
    public void putLinkedBlob(String upstream, String repository, Digest digest, long size, long accessMillis) {
        if (hotLinked(upstream, repository, digest)) {
            store.putBlob(digest, size, accessMillis);
            return;
        }
        store.putLinkedBlob(upstream, repository, digest, size, accessMillis);
        links.put(upstream + '\0' + repository + '\0' + digest, Boolean.TRUE);
    }

    @Override
    public Optional<StoredManifest> manifest(Digest digest) {
        StoredManifest[] tooLarge = new StoredManifest[1];
        StoredManifest hot = manifests.get(digest, d -> {
            StoredManifest stored = store.manifest(d).orElse(null);
            if (stored != null && !keepsHot(stored)) {
                tooLarge[0] = stored;
                return null;
            }
            return stored;
        });
        return Optional.ofNullable(hot != null ? hot : tooLarge[0]);
    }

    @Override
    public void putManifest(StoredManifest manifest) {
        store.putManifest(manifest);
        if (keepsHot(manifest)) {
            manifests.put(manifest.digest(), manifest);
        }
    }

    private boolean keepsHot(StoredManifest manifest) {
        return manifest.bytes().length <= largestHot;
    }

    @Override
    public void removeManifest(Digest digest) {
        store.removeManifest(digest);
        manifests.invalidate(digest);
    }

    @Override
    public Optional<TagResolution> tag(TagKey key) {
        return Optional.ofNullable(tags.get(key, k -> store.tag(k).orElse(null)));
    }

    @Override
    public void putTag(TagKey key, TagResolution resolution) {
        store.putTag(key, resolution);
        tags.put(key, resolution);
    }

    @Override
    public void unlink(String upstream, String repository, Digest digest) {
        store.unlink(upstream, repository, digest);
        links.invalidate(upstream + '\0' + repository + '\0' + digest);
    }

    @Override
    public void removeTag(String upstream, String repository, String tag) {
        store.removeTag(upstream, repository, tag);
        tags.asMap().keySet().removeIf(key -> key.upstream().equals(upstream) && key.repository().equals(repository)
                && key.tag().equals(tag));
    }

    @Override
    public void removeAll(List<IndexEntry> entries) {
        store.removeAll(entries);
        for (IndexEntry entry : entries) {
            if (entry.kind() == IndexEntry.Kind.MANIFEST) {
                manifests.invalidate(entry.digest());
            }
        }
    }

}
