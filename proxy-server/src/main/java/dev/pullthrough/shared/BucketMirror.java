package dev.pullthrough.shared;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.RepositoryLink;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import dev.pullthrough.storage.s3.S3Bucket;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local index, with every blob, manifest and repository link it records written to the bucket
 * as well, after the fact and in the background: only what was verified and committed locally gets
 * there, so an object in the bucket is always whole and right. A blob already in the bucket (read
 * from it, or stored by another replica) is not written again. Everything else passes through.
 */
public final class BucketMirror implements MetadataStore {
    private static final Logger LOG = LoggerFactory.getLogger(BucketMirror.class);
    private static final byte[] NOTHING = new byte[0];

    private final MetadataStore store;
    private final S3Bucket bucket;
    private final BlobPaths paths;
    private final AtomicLong pending = new AtomicLong();

    public BucketMirror(MetadataStore store, S3Bucket bucket, BlobPaths paths) {
        this.store = store;
        this.bucket = bucket;
        this.paths = paths;
    }

    /** Writes to the bucket not finished yet (tests wait for 0; shutdown reports them). */
    public long pendingWrites() {
        return pending.get();
    }

    private void track(String what, CompletableFuture<Void> write) {
        pending.incrementAndGet();
        write.whenComplete((done, failure) -> {
            pending.decrementAndGet();
            if (failure != null) {
                LOG.warn("writing {} to the bucket failed (other replicas fetch it themselves): {}", what, failure.toString());
            }
        });
    }

    @Override
    public void putBlob(Digest digest, long size, long accessMillis) {
        store.putBlob(digest, size, accessMillis);
        String key = bucket.key(S3Bucket.Kind.BLOBS, digest);
        track("blob " + digest, bucket.size(key).thenCompose(held -> held.isPresent() && held.get() == size
                ? CompletableFuture.completedFuture(null)
                : bucket.putFile(key, paths.blob(digest), "application/octet-stream")));
    }

    @Override
    public void putManifest(StoredManifest manifest) {
        store.putManifest(manifest);
        track("manifest " + manifest.digest(),
                bucket.putBytes(bucket.key(S3Bucket.Kind.MANIFESTS, manifest.digest()), manifest.bytes(), manifest.mediaType()));
    }

    @Override
    public void link(String upstream, String repository, Digest digest) {
        store.link(upstream, repository, digest);
        track("the link of " + digest + " to " + repository,
                bucket.putBytes(bucket.linkKey(upstream, repository, digest), NOTHING, "application/octet-stream"));
    }

    // ---------------------------------------------------------------- the rest is the local index's

    @Override
    public Optional<StoredManifest> manifest(Digest digest) {
        return store.manifest(digest);
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
