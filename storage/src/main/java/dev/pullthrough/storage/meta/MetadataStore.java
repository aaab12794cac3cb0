package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Manifests by digest, tag resolutions, and the index of everything cached (size and last access)
 * that bounds the cache. Implementations are thread-safe and block on disk.
 */
public interface MetadataStore extends AutoCloseable {
    Optional<StoredManifest> manifest(Digest digest);

    /** Stores a manifest and indexes it, atomically. */
    void putManifest(StoredManifest manifest);

    /** Removes a manifest and its index entry (eviction, fsck). */
    void removeManifest(Digest digest);

    Optional<TagResolution> tag(TagKey key);

    void putTag(TagKey key, TagResolution resolution);

    /** The most recently checked resolution of a tag for any accept set (export). */
    Optional<TagResolution> anyTag(String upstream, String repository, String tag);

    /**
     * Whether the upstream is known to hold {@code digest} in {@code repository}: a digest cached
     * for one repository is served for another only once that repository was checked upstream
     * (private repositories must not leak through a shared cache).
     */
    boolean linked(String upstream, String repository, Digest digest);

    /**
     * Whether {@code digest} is linked to some repository of {@code upstream}: fetched through that
     * upstream, or confirmed by it. While an upstream cannot be reached, only such a digest may be
     * served through it (issue 26): a digest cached from another upstream never is.
     */
    default boolean linkedThrough(String upstream, Digest digest) {
        boolean[] found = {false};
        forEachRepository((linkUpstream, repository) -> {
            if (!found[0] && linkUpstream.equals(upstream) && linked(upstream, repository, digest)) {
                found[0] = true;
            }
        });
        return found[0];
    }

    /** Records that the upstream holds {@code digest} in {@code repository}. */
    void link(String upstream, String repository, Digest digest);

    /** Forgets that {@code repository} holds {@code digest} (purge). */
    void unlink(String upstream, String repository, Digest digest);

    /** Every link, ordered by upstream, repository and digest. */
    void forEachLink(Consumer<RepositoryLink> action);

    /** The digests linked to one repository (one seek). */
    void forEachLink(String upstream, String repository, Consumer<Digest> action);

    /** Every tag resolution, ordered by upstream, repository and tag. */
    void forEachTag(BiConsumer<TagKey, TagResolution> action);

    /** Removes every resolution of one tag, for every accept set (purge). */
    void removeTag(String upstream, String repository, String tag);

    /** Every repository something is linked to, once each, ordered by upstream then repository. */
    void forEachRepository(BiConsumer<String, String> upstreamAndRepository);

    /**
     * Whether something linked to the repository is still cached (indexed): what {@code _catalog}
     * lists (issue 29). Links outlive eviction, since they record what the upstream said, so a
     * repository whose manifests and blobs were all evicted is still linked yet holds nothing.
     */
    default boolean holdsAnything(String upstream, String repository) {
        boolean[] found = {false};
        forEachLink(upstream, repository, digest -> {
            if (!found[0] && entry(digest).isPresent()) {
                found[0] = true;
            }
        });
        return found[0];
    }

    /** Indexes a committed blob. */
    void putBlob(Digest digest, long size, long accessMillis);

    /**
     * Indexes a committed blob and records that the upstream holds it in {@code repository}: a store
     * that can does both in one write (a small blob's download writes nothing else, issue 28).
     */
    default void putLinkedBlob(String upstream, String repository, Digest digest, long size, long accessMillis) {
        link(upstream, repository, digest);
        putBlob(digest, size, accessMillis);
    }

    /** Removes a blob's index entry (eviction, repair). */
    void removeBlob(Digest digest);

    /** Records last accesses, for entries still indexed. */
    void touch(Map<Digest, Long> accessMillis);

    /** Every index entry, in no particular order. */
    void forEachEntry(Consumer<IndexEntry> action);

    /** Removes these blobs and manifests from the index (a manifest's bytes too), in one write. */
    void removeAll(List<IndexEntry> entries);

    /** The index entry of a blob or manifest, if indexed. */
    Optional<IndexEntry> entry(Digest digest);

    /**
     * Index entries last used at or after {@code fromMillis}, least recently used first, until
     * {@code action} returns false. Starting where the previous step stopped matters: the entries
     * before it were just removed, and a store may have to step over what it removed.
     */
    void forEachByAge(long fromMillis, Predicate<IndexEntry> action);

    /** Every stored manifest (fsck). */
    void forEachManifest(Consumer<StoredManifest> action);

    @Override
    void close();
}
