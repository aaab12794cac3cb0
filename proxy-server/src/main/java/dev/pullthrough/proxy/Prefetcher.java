package dev.pullthrough.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.registry.api.AcceptHeader;
import dev.pullthrough.storage.gc.CacheJanitor;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import java.io.IOException;
import java.net.http.HttpResponse;
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
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Told of each step, for a progress display. */
    public interface Progress {
        void manifest(Digest digest, String mediaType);

        void blob(Digest digest, long size);
    }

    /** What one prefetch fetched or found. */
    public record Summary(String image, Digest digest, int manifests, int blobs, long blobBytes) {}

    private final UpstreamRouter router;
    private final BlobService blobs;
    private final MetadataStore metadata;
    private final CacheJanitor janitor;
    private final Clock clock;

    public Prefetcher(UpstreamRouter router, BlobService blobs, MetadataStore metadata, CacheJanitor janitor, Clock clock) {
        this.router = router;
        this.blobs = blobs;
        this.metadata = metadata;
        this.janitor = janitor;
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
            TagResolution resolution = new TagResolution(top.digest(), top.mediaType(), clock.millis());
            String tag = reference.reference().toString();
            String repository = target.repository().value();
            metadata.putTag(new TagKey(target.upstreamName(), repository, tag, AcceptHeader.normalise(List.of(ACCEPT))), resolution);
            metadata.putTag(new TagKey(target.upstreamName(), repository, tag, ManifestService.ANY_CLIENT), resolution);
        }
        return new Summary(target.upstreamName() + "/" + target.repository() + (reference.reference() instanceof Reference.Tag
                ? ":" : "@") + reference.reference(), top.digest(), counts[0], counts[1], bytes[0]);
    }

    private StoredManifest walk(Target target, String reference, Progress progress) throws IOException {
        StoredManifest manifest = manifest(target, reference);
        // Verified for this repository (fetched for it, or linked to it): so is everything it names.
        ManifestService.linkWithReferences(metadata, target, manifest);
        JsonNode json = JSON.readTree(manifest.bytes());
        if (MediaTypes.isIndex(manifest.mediaType())) {
            for (JsonNode child : json.path("manifests")) {
                walk(target, child.path("digest").asText(), progress);
            }
        } else {
            blob(target, json.path("config"), progress);
            for (JsonNode layer : json.path("layers")) {
                blob(target, layer, progress);
            }
        }
        if (metadata.manifest(manifest.digest()).isEmpty()) {
            metadata.putManifest(manifest);
            janitor.added(manifest.bytes().length);
        }
        progress.manifest(manifest.digest(), manifest.mediaType());
        return manifest;
    }

    private void blob(Target target, JsonNode descriptor, Progress progress) throws IOException {
        if (descriptor.isMissingNode() || !descriptor.hasNonNull("digest")) {
            return;
        }
        if (descriptor.has("urls") && descriptor.path("mediaType").asText().contains("foreign")) {
            return; // non-distributable layers live elsewhere by design
        }
        Digest digest;
        try {
            digest = Digest.parse(descriptor.path("digest").asText());
        } catch (IllegalArgumentException e) {
            throw new IOException("a manifest of " + target.repository() + " names an invalid digest: " + e.getMessage());
        }
        progress.blob(digest, blobs.ensureCached(target, digest));
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
        HttpResponse<byte[]> response = target.upstream().manifest("GET", target.repository(), reference, List.of(ACCEPT));
        if (response.statusCode() != 200) {
            throw new IOException("upstream " + target.upstreamName() + " answered " + response.statusCode()
                    + " for manifest " + reference + " of " + target.repository());
        }
        String mediaType = ManifestService.mediaTypeOf(response);
        Digest digest = asDigest.orElseGet(() -> response.headers().firstValue("Docker-Content-Digest")
                .map(Digest::parse).orElseGet(() -> Digest.sha256Of(response.body())));
        if (!digest.matches(response.body())) {
            throw new IOException("manifest " + reference + " of " + target.repository() + " does not hash to " + digest);
        }
        return new StoredManifest(digest, mediaType, response.body());
    }
}
