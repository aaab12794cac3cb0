package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import java.io.IOException;
import java.time.Clock;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * Warms the cache: every platform of an image, each manifest and blob once (an {@link ImageWalk}
 * within {@link WalkLimits}), linked to the repository only once all of it is cached, so a manifest
 * served for the repository always has what it needs.
 */
public final class Prefetcher {
    /** Every modern manifest type: prefetch keeps what the upstream stores, indexes included. */
    static final String ACCEPT = String.join(", ", MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST,
            MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST_V2);

    /** Told of each step, for a progress display. */
    public interface Progress {
        void manifest(Digest digest, String mediaType);

        void blob(Digest digest, long size);
    }

    /** What one prefetch fetched or found. */
    public record Summary(String image, Digest digest, int manifests, int blobs, long blobBytes) {}

    /** Progress nobody watches (the admin endpoint, keep-warm). */
    public static final Progress QUIET = new Progress() {
        @Override
        public void manifest(Digest digest, String mediaType) {
        }

        @Override
        public void blob(Digest digest, long size) {
        }
    };

    private final UpstreamRouter router;
    private final BlobService blobs;
    private final MetadataStore metadata;
    private final ManifestAdmission admission;
    private final Clock clock;
    private final WalkLimits limits;

    public Prefetcher(UpstreamRouter router, BlobService blobs, MetadataStore metadata, ManifestAdmission admission,
                      Clock clock) {
        this(router, blobs, metadata, admission, clock, WalkLimits.DEFAULT);
    }

    public Prefetcher(UpstreamRouter router, BlobService blobs, MetadataStore metadata, ManifestAdmission admission,
                      Clock clock, WalkLimits limits) {
        this.limits = limits;
        this.router = router;
        this.blobs = blobs;
        this.metadata = metadata;
        this.admission = admission;
        this.clock = clock;
    }

    public Summary prefetch(String image, Progress progress) throws IOException {
        return prefetch(image, progress, () -> false);
    }

    /**
     * As {@link #prefetch(String, Progress)}, stopped (with an {@link IOException}) as soon as
     * {@code abandoned} says whoever asked has gone away: an admin client that hung up.
     */
    public Summary prefetch(String image, Progress progress, BooleanSupplier abandoned) throws IOException {
        ImageReference reference;
        try {
            reference = ImageReference.parse(image);
        } catch (IllegalArgumentException e) {
            throw new IOException("'" + image + "' is not an image reference ([UPSTREAM/]REPO[:TAG|@DIGEST]): " + e.getMessage());
        }
        UpstreamRouter.Result routed = router.route(reference.name(), Optional.empty());
        if (routed.error().isPresent()) {
            throw new IOException(image + ": " + routed.error().get().message());
        }
        Target target = routed.target().orElseThrow();
        int[] counts = {0, 0};
        long[] bytes = {0};
        Progress counting = new Progress() {
            @Override
            public void manifest(Digest digest, String mediaType) {
                counts[0]++;
                progress.manifest(digest, mediaType);
            }

            @Override
            public void blob(Digest digest, long size) {
                counts[1]++;
                bytes[0] += size;
                progress.blob(digest, size);
            }
        };
        StoredManifest top;
        try {
            top = new ImageWalk(target, blobs, metadata, admission, limits, abandoned).run(reference.reference().toString(), counting);
        } catch (ImageWalk.Abandoned e) {
            throw new IOException(e.getMessage());
        }
        if (reference.reference() instanceof Reference.Tag) {
            // Asked with every modern type listed: the answer is the manifest the upstream stores for the tag.
            metadata.putTag(TagKey.own(target.upstreamName(), target.repository().value(), reference.reference().toString()),
                    new TagResolution(top.digest(), top.mediaType(), clock.millis()));
        }
        return new Summary(target.upstreamName() + "/" + target.repository() + (reference.reference() instanceof Reference.Tag
                ? ":" : "@") + reference.reference(), top.digest(), counts[0], counts[1], bytes[0]);
    }
}
