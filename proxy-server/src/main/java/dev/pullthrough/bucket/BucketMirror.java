package dev.pullthrough.bucket;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.meta.ForwardingMetadataStore;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.s3.S3Bucket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local index, with every blob, manifest and repository link it records written to the bucket
 * as well, after the fact and in the background: only what was verified and committed locally gets
 * there, so an object in the bucket is always whole and right. A blob already in the bucket (read
 * from it, or stored by another replica) is not written again. Everything else passes through.
 */
public final class BucketMirror extends ForwardingMetadataStore {
    private static final Logger LOG = LoggerFactory.getLogger(BucketMirror.class);
    private static final byte[] NOTHING = new byte[0];

    private final S3Bucket bucket;
    private final BlobPaths paths;
    private final AtomicLong pending = new AtomicLong();
    private final BucketUploads uploads;

    /** {@code reads} reads the parts of the multipart uploads from disk. */
    public BucketMirror(MetadataStore store, S3Bucket bucket, BlobPaths paths, ExecutorService reads) {
        super(store);
        this.uploads = new BucketUploads(bucket, paths.tmpDir(), paths, pending, reads);
        this.bucket = bucket;
        this.paths = paths;
    }

    /** The multipart uploads that follow large downloads into the bucket. */
    public BucketUploads uploads() {
        return uploads;
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
        if (uploads.claimed(digest)) {
            return; // a multipart upload follows its download (or it came shared): not written whole here
        }
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

}
