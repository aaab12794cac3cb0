package dev.pullthrough.bucket;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.BlobRedirects;
import dev.pullthrough.proxy.Target;
import dev.pullthrough.storage.s3.S3Bucket;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code storage.s3.redirect}: a blob the bucket holds, for a repository the bucket records it in,
 * is fetched by the client straight from the bucket through a presigned URL (as the reference
 * registry's {@code redirect} does); the proxy serves no byte of it. Anything else, and any bucket
 * failure, is served by the proxy as usual.
 */
public final class BucketRedirects implements BlobRedirects {
    /** Long enough for a slow client to start a large layer; a presigned URL is only a read grant. */
    static final Duration URL_LIFETIME = Duration.ofMinutes(20);
    private static final Logger LOG = LoggerFactory.getLogger(BucketRedirects.class);

    private final S3Bucket bucket;
    private final Consumer<Digest> redirected;

    public BucketRedirects(S3Bucket bucket) {
        this(bucket, digest -> { });
    }

    /** {@code redirected} hears of each blob handed out by URL: a use the bucket retention must know of (issue 30). */
    public BucketRedirects(S3Bucket bucket, Consumer<Digest> redirected) {
        this.bucket = bucket;
        this.redirected = redirected;
    }

    @Override
    public Optional<URI> locate(Target target, Digest digest) {
        try {
            String key = bucket.key(S3Bucket.Kind.BLOBS, digest);
            boolean linked = bucket.size(bucket.linkKey(target.upstreamName(), target.repository().value(), digest)).join().isPresent();
            if (!linked || bucket.size(key).join().isEmpty()) {
                return Optional.empty();
            }
            redirected.accept(digest);
            return Optional.of(bucket.presignedGet(key, URL_LIFETIME));
        } catch (RuntimeException e) {
            LOG.warn("looking up {} in the bucket failed; serving it here: {}", digest, e.toString());
            return Optional.empty();
        }
    }
}
