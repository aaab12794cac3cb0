package dev.pullthrough.proxy;

import dev.pullthrough.oci.Descriptor;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidManifestException;
import dev.pullthrough.oci.ManifestContent;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.IOException;
import java.time.Clock;
import java.util.List;
import java.util.Optional;

/**
 * Warms the cache: every platform of an image, recursively, children before the parent and blobs
 * before the manifest that names them, so a manifest in the cache always has what it needs.
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

    public Prefetcher(UpstreamRouter router, BlobService blobs, MetadataStore metadata, ManifestAdmission admission,
                      Clock clock) {
        this.router = router;
        this.blobs = blobs;
        this.metadata = metadata;
        this.admission = admission;
        this.clock = clock;
    }

    public Summary prefetch(String image, Progress progress) throws IOException {
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
        StoredManifest top = walk(target, reference.reference().toString(), counting);
        if (reference.reference() instanceof Reference.Tag) {
            // Asked with every modern type listed: the answer is the manifest the upstream stores for the tag.
            metadata.putTag(TagKey.own(target.upstreamName(), target.repository().value(), reference.reference().toString()),
                    new TagResolution(top.digest(), top.mediaType(), clock.millis()));
        }
        return new Summary(target.upstreamName() + "/" + target.repository() + (reference.reference() instanceof Reference.Tag
                ? ":" : "@") + reference.reference(), top.digest(), counts[0], counts[1], bytes[0]);
    }

    private StoredManifest walk(Target target, String reference, Progress progress) throws IOException {
        StoredManifest fetched = manifest(target, reference);
        ManifestContent content;
        try {
            content = ManifestContent.parse(fetched.bytes());
        } catch (InvalidManifestException e) {
            throw new IOException("manifest " + reference + " of " + target.repository() + " is not a manifest: " + e.getMessage());
        }
        for (Descriptor child : content.manifests()) {
            walk(target, child.digest().toString(), progress);
        }
        for (Descriptor blob : content.blobs()) {
            progress.blob(blob.digest(), blobs.ensureCached(target, blob.digest()));
        }
        StoredManifest manifest;
        try {
            manifest = admission.admit(target.upstreamName(), target.repository().value(), fetched.digest(),
                    fetched.mediaType(), fetched.bytes());
        } catch (ManifestAdmission.Refused e) {
            throw new IOException("manifest " + reference + " of " + target.repository() + " cannot be cached: " + e.getMessage());
        }
        progress.manifest(manifest.digest(), manifest.mediaType());
        return manifest;
    }

    /**
     * The manifest from cache when the reference is a digest cached and known to be in this
     * repository, else from the upstream, verified.
     */
    private StoredManifest manifest(Target target, String reference) throws IOException {
        Optional<Digest> asDigest = Reference.parse(reference).digest();
        if (asDigest.isPresent() && metadata.linked(target.upstreamName(), target.repository().value(), asDigest.get())) {
            Optional<StoredManifest> cached = metadata.manifest(asDigest.get());
            if (cached.isPresent()) {
                return cached.get();
            }
        }
        UpstreamResult<ManifestBody> answer = target.upstream().manifest(target.repository(), reference, List.of(ACCEPT)).join();
        if (answer instanceof UpstreamResult.Refused<ManifestBody> refused) {
            throw new IOException("upstream " + target.upstreamName() + " did not give manifest " + reference + " of "
                    + target.repository() + ": " + refused.refusal());
        }
        // Held only while read here: a walk holds an index while it fetches its children, and a
        // child waiting for the memory its parent holds would wait for ever.
        try (ManifestBody body = ((UpstreamResult.Ok<ManifestBody>) answer).value()) {
            return verified(target, reference, asDigest, body);
        }
    }

    private static StoredManifest verified(Target target, String reference, Optional<Digest> asDigest, ManifestBody body)
            throws IOException {
        String mediaType = body.mediaType();
        Digest digest;
        try {
            digest = asDigest.isPresent() ? asDigest.get() : body.declaredDigest().map(Digest::parse)
                    .orElseGet(() -> Digest.sha256Of(body.bytes()));
        } catch (IllegalArgumentException e) {
            throw new IOException("upstream " + target.upstreamName() + " declared an invalid digest for " + reference);
        }
        if (!digest.matches(body.bytes())) {
            throw new IOException("manifest " + reference + " of " + target.repository() + " does not hash to " + digest);
        }
        return new StoredManifest(digest, mediaType, body.bytes());
    }
}
