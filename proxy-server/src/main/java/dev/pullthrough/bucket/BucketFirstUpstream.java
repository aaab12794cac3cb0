package dev.pullthrough.bucket;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.ForwardingUpstream;
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.ManifestHead;
import dev.pullthrough.upstream.Upstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An upstream with the shared bucket in front, for what is addressed by digest: a blob or a manifest
 * that another replica stored is read from the bucket instead of the upstream, but only when the
 * bucket also records that the upstream holds it in the repository asked for (a private
 * repository's content never leaks to another through the bucket). Tags and listings always go to
 * the upstream. Whatever comes from the bucket is verified like an upstream answer (its digest); when
 * the bucket cannot be read, the upstream is asked.
 */
public final class BucketFirstUpstream extends ForwardingUpstream {
    private static final Logger LOG = LoggerFactory.getLogger(BucketFirstUpstream.class);

    private final S3Bucket bucket;

    public BucketFirstUpstream(Upstream upstream, S3Bucket bucket) {
        super(upstream);
        this.bucket = bucket;
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
        Optional<Digest> digest = digest(reference);
        if (digest.isEmpty()) {
            return upstream.manifest(name, reference, accept);
        }
        return fromBucket(name, digest.get(), () -> bucket.content(bucket.key(S3Bucket.Kind.MANIFESTS, digest.get()))
                        .thenApply(content -> content.map(c -> (UpstreamResult<ManifestBody>) new UpstreamResult.Ok<>(
                                new ManifestBody(c.contentType(), Optional.of(digest.get().toString()), c.bytes())))),
                () -> upstream.manifest(name, reference, accept));
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference, List<String> accept) {
        Optional<Digest> digest = digest(reference);
        if (digest.isEmpty()) {
            return upstream.headManifest(name, reference, accept);
        }
        return fromBucket(name, digest.get(), () -> bucket.size(bucket.key(S3Bucket.Kind.MANIFESTS, digest.get()))
                        .thenApply(size -> size.map(s -> (UpstreamResult<ManifestHead>) new UpstreamResult.Ok<>(
                                new ManifestHead(Optional.of(digest.get().toString()))))),
                () -> upstream.headManifest(name, reference, accept));
    }

    @Override
    public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
        return fromBucket(name, digest, () -> bucket.stream(bucket.key(S3Bucket.Kind.BLOBS, digest))
                        .thenApply(stream -> stream.map(s -> (UpstreamResult<BlobBody>) new UpstreamResult.Ok<>(
                                new BlobBody(s.size(), new BucketBodySource(s.bytes()), true)))),
                () -> upstream.blob(name, digest));
    }

    @Override
    public CompletableFuture<UpstreamResult<Long>> headBlob(RepositoryName name, Digest digest) {
        return fromBucket(name, digest, () -> bucket.size(bucket.key(S3Bucket.Kind.BLOBS, digest))
                        .thenApply(size -> size.map(s -> (UpstreamResult<Long>) new UpstreamResult.Ok<>(s))),
                () -> upstream.headBlob(name, digest));
    }

    /**
     * The bucket's answer when it records the repository's link and holds the object; the
     * upstream's otherwise, or when the bucket fails.
     */
    private <T> CompletableFuture<UpstreamResult<T>> fromBucket(RepositoryName name, Digest digest,
            Supplier<CompletableFuture<Optional<UpstreamResult<T>>>> read,
            Supplier<CompletableFuture<UpstreamResult<T>>> ask) {
        return bucket.size(bucket.linkKey(config().name(), name.value(), digest))
                .thenCompose(link -> link.isPresent() ? read.get() : CompletableFuture.completedFuture(Optional.<UpstreamResult<T>>empty()))
                .exceptionally(failure -> {
                    LOG.warn("reading {} from the bucket failed; asking the upstream: {}", digest, failure.toString());
                    return Optional.empty();
                })
                .thenCompose(found -> found.isPresent() ? CompletableFuture.completedFuture(found.get()) : ask.get());
    }

    private static Optional<Digest> digest(String reference) {
        if (!reference.contains(":")) {
            return Optional.empty();
        }
        try {
            return Optional.of(Digest.parse(reference));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
