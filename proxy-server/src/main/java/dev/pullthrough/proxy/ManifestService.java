package dev.pullthrough.proxy;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidDigestException;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.registry.api.AcceptHeader;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Manifests through the cache. By digest: immutable, from cache once verified. By tag: the
 * resolution is kept per accept set and trusted for the upstream's tag TTL, then revalidated with
 * {@code HEAD} (free on Docker Hub); a {@code GET} only when the digest moved. The upstream's bytes
 * are kept exactly and served with the media type and digest that belong to them. Blocking.
 */
public final class ManifestService {
    private final MetadataStore metadata;
    private final Metrics metrics;
    private final Clock clock;
    private final boolean offline;

    public ManifestService(MetadataStore metadata, Metrics metrics, Clock clock, boolean offline) {
        this.metadata = metadata;
        this.metrics = metrics;
        this.clock = clock;
        this.offline = offline;
    }

    public ProxyResponse get(Target target, Reference reference, List<String> accept) {
        if (reference instanceof Reference.ByDigest) {
            return byDigest(target, ((Reference.ByDigest) reference).value(), accept);
        }
        return byTag(target, ((Reference.Tag) reference).value(), accept);
    }

    private ProxyResponse byDigest(Target target, Digest digest, List<String> accept) {
        Optional<StoredManifest> cached = metadata.manifest(digest);
        metrics.cacheLookup("manifest", cached.isPresent());
        if (cached.isPresent()) {
            return served(cached.get(), true);
        }
        if (offline) {
            return UpstreamErrors.error(ErrorCode.MANIFEST_UNKNOWN, "manifest " + digest + " is not cached and the proxy is offline");
        }
        HttpResponse<byte[]> response;
        try {
            response = target.upstream().manifest("GET", target.repository(), digest.toString(), accept);
        } catch (IOException e) {
            return UpstreamErrors.forFailure(e, describe(target, digest.toString()), target.upstreamName());
        }
        if (response.statusCode() != 200) {
            return UpstreamErrors.forStatus(response.statusCode(), response.headers(), ErrorCode.MANIFEST_UNKNOWN,
                    describe(target, digest.toString()), target.upstreamName());
        }
        String mediaType = mediaTypeOf(response);
        if (isSignedSchema1(mediaType)) {
            return passThroughSchema1(response, mediaType);
        }
        if (!digest.matches(response.body())) {
            return UpstreamErrors.error(ErrorCode.UPSTREAM_UNAVAILABLE,
                    "upstream " + target.upstreamName() + " sent bytes that do not hash to " + digest + "; nothing was cached");
        }
        StoredManifest manifest = new StoredManifest(digest, mediaType, response.body());
        metadata.putManifest(manifest);
        return served(manifest, false);
    }

    private ProxyResponse byTag(Target target, String tag, List<String> accept) {
        TagKey key = new TagKey(target.upstreamName(), target.repository().value(), tag, AcceptHeader.normalise(accept));
        Optional<TagResolution> known = metadata.tag(key);
        Optional<StoredManifest> cached = known.flatMap(r -> metadata.manifest(r.digest()));
        long now = clock.millis();
        if (cached.isPresent() && (offline || now - known.get().checkedAtMillis() < target.upstream().config().tagTtl().toMillis())) {
            metrics.cacheLookup("manifest", true);
            return served(cached.get(), true);
        }
        if (offline) {
            metrics.cacheLookup("manifest", false);
            return UpstreamErrors.error(ErrorCode.MANIFEST_UNKNOWN, "tag " + tag + " is not cached and the proxy is offline");
        }
        if (cached.isPresent() && stillCurrent(target, tag, accept, known.get())) {
            metrics.cacheLookup("manifest", true);
            metadata.putTag(key, new TagResolution(known.get().digest(), known.get().mediaType(), now));
            return served(cached.get(), true);
        }
        metrics.cacheLookup("manifest", false);
        return fetchTag(target, tag, accept, key, now);
    }

    /** {@code HEAD /v2/<name>/manifests/<tag>}: does not count against Docker Hub's pull limit. */
    private boolean stillCurrent(Target target, String tag, List<String> accept, TagResolution known) {
        try {
            HttpResponse<byte[]> head = target.upstream().manifest("HEAD", target.repository(), tag, accept);
            return head.statusCode() == 200
                    && head.headers().firstValue("Docker-Content-Digest").map(known.digest().toString()::equals).orElse(false);
        } catch (IOException e) {
            return false;
        }
    }

    private ProxyResponse fetchTag(Target target, String tag, List<String> accept, TagKey key, long now) {
        HttpResponse<byte[]> response;
        try {
            response = target.upstream().manifest("GET", target.repository(), tag, accept);
        } catch (IOException e) {
            return UpstreamErrors.forFailure(e, describe(target, tag), target.upstreamName());
        }
        if (response.statusCode() != 200) {
            return UpstreamErrors.forStatus(response.statusCode(), response.headers(), ErrorCode.MANIFEST_UNKNOWN,
                    describe(target, tag), target.upstreamName());
        }
        String mediaType = mediaTypeOf(response);
        if (isSignedSchema1(mediaType)) {
            return passThroughSchema1(response, mediaType);
        }
        Digest digest;
        try {
            digest = response.headers().firstValue("Docker-Content-Digest").map(Digest::parse)
                    .orElseGet(() -> Digest.sha256Of(response.body()));
        } catch (InvalidDigestException e) {
            return UpstreamErrors.error(ErrorCode.UPSTREAM_UNAVAILABLE,
                    "upstream " + target.upstreamName() + " sent an invalid Docker-Content-Digest: " + e.getMessage());
        }
        if (!digest.matches(response.body())) {
            return UpstreamErrors.error(ErrorCode.UPSTREAM_UNAVAILABLE, "upstream " + target.upstreamName()
                    + " sent a manifest for " + tag + " that does not hash to its digest " + digest + "; nothing was cached");
        }
        StoredManifest manifest = new StoredManifest(digest, mediaType, response.body());
        metadata.putManifestAndTag(manifest, key, new TagResolution(digest, mediaType, now));
        return served(manifest, false);
    }

    /**
     * A signed schema 1 manifest is re-signed by the upstream on every request: its bytes never
     * hash to its digest (which covers the unsigned payload), so it is passed through, not cached.
     */
    private static ProxyResponse passThroughSchema1(HttpResponse<byte[]> response, String mediaType) {
        Digest digest = response.headers().firstValue("Docker-Content-Digest").flatMap(ManifestService::tryParse)
                .orElseGet(() -> Digest.sha256Of(response.body()));
        return new ProxyResponse.Manifest(mediaType, digest, response.body(), false, Map.of());
    }

    private static Optional<Digest> tryParse(String text) {
        try {
            return Optional.of(Digest.parse(text));
        } catch (InvalidDigestException e) {
            return Optional.empty();
        }
    }

    private static boolean isSignedSchema1(String mediaType) {
        return MediaTypes.DOCKER_MANIFEST_V1_SIGNED.equals(mediaType);
    }

    /** The upstream's Content-Type without parameters: the exact media type, never with {@code charset}. */
    private static String mediaTypeOf(HttpResponse<byte[]> response) {
        String type = response.headers().firstValue("Content-Type").orElse(MediaTypes.DOCKER_MANIFEST_V1_SIGNED);
        int semicolon = type.indexOf(';');
        return (semicolon < 0 ? type : type.substring(0, semicolon)).trim();
    }

    private static ProxyResponse served(StoredManifest manifest, boolean fromCache) {
        return new ProxyResponse.Manifest(manifest.mediaType(), manifest.digest(), manifest.bytes(), fromCache, Map.of());
    }

    private static String describe(Target target, String reference) {
        return "manifest " + reference + " of " + target.repository();
    }
}
