package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * A metadata store that hands every call to another: the base of the decorators (hot cache in
 * memory, mirror to the shared bucket), which override only what they change.
 */
public abstract class ForwardingMetadataStore implements MetadataStore {
    protected final MetadataStore store;

    protected ForwardingMetadataStore(MetadataStore store) {
        this.store = store;
    }

    @Override
    public Optional<StoredManifest> manifest(Digest digest) {
        return store.manifest(digest);
    }

    @Override
    public void putManifest(StoredManifest manifest) {
        store.putManifest(manifest);
    }

    @Override
    public void removeManifest(Digest digest) {
        store.removeManifest(digest);
    }

    @Override
    public Optional<TagResolution> tag(TagKey key) {
        return store.tag(key);
    }

    @Override
    public void putTag(TagKey key, TagResolution resolution) {
        store.putTag(key, resolution);
    }

    @Override
    public Optional<TagResolution> anyTag(String upstream, String repository, String tag) {
        return store.anyTag(upstream, repository, tag);
    }

    @Override
    public boolean linked(String upstream, String repository, Digest digest) {
        return store.linked(upstream, repository, digest);
    }

    @Override
    public boolean linkedThrough(String upstream, Digest digest) {
        return store.linkedThrough(upstream, digest);
    }

    @Override
    public void link(String upstream, String repository, Digest digest) {
        store.link(upstream, repository, digest);
    }

    @Override
    public void unlink(String upstream, String repository, Digest digest) {
        store.unlink(upstream, repository, digest);
    }

    @Override
    public void forEachLink(Consumer<RepositoryLink> action) {
        store.forEachLink(action);
    }

    @Override
    public void forEachLink(String upstream, String repository, Consumer<Digest> action) {
        store.forEachLink(upstream, repository, action);
    }

    @Override
    public void forEachTag(BiConsumer<TagKey, TagResolution> action) {
        store.forEachTag(action);
    }

    @Override
    public void removeTag(String upstream, String repository, String tag) {
        store.removeTag(upstream, repository, tag);
    }

    @Override
    public void forEachRepository(BiConsumer<String, String> upstreamAndRepository) {
        store.forEachRepository(upstreamAndRepository);
    }

    @Override
    public boolean holdsAnything(String upstream, String repository) {
        return store.holdsAnything(upstream, repository);
    }

    @Override
    public void putBlob(Digest digest, long size, long accessMillis) {
        store.putBlob(digest, size, accessMillis);
    }

    @Override
    public void removeBlob(Digest digest) {
        store.removeBlob(digest);
    }

    @Override
    public void touch(Map<Digest, Long> accessMillis) {
        store.touch(accessMillis);
    }

    @Override
    public void forEachEntry(Consumer<IndexEntry> action) {
        store.forEachEntry(action);
    }

    @Override
    public void removeAll(List<IndexEntry> entries) {
        store.removeAll(entries);
    }

    @Override
    public Optional<IndexEntry> entry(Digest digest) {
        return store.entry(digest);
    }

    @Override
    public void forEachByAge(long fromMillis, Predicate<IndexEntry> action) {
        store.forEachByAge(fromMillis, action);
    }

    @Override
    public void forEachManifest(Consumer<StoredManifest> action) {
        store.forEachManifest(action);
    }

    @Override
    public void close() {
        store.close();
    }
}
