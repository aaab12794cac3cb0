package dev.pullthrough.proxy;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidDigestException;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.registry.api.AcceptHeader;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.gc.CacheJanitor;
import dev.pullthrough.storage.meta.HotMetadata;
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
 * Manifests through the cache, indistinguishable from the upstream for every {@code Accept}.
 *
 * <p>By tag: the resolution is kept per (upstream, repository, tag, accept set), trusted for the
 * upstream's tag TTL, then revalidated with {@code HEAD} (free on Docker Hub); a {@code GET} only
 * when the digest moved. When the upstream is down or limiting us, a stale resolution is served
 * with a {@code Warning} for up to {@code maxStale}.
 *
 * <p>By digest: immutable bytes, served from cache when the client accepts their media type (or
 * this accept set was already given them by the upstream). Otherwise the upstream decides, as it
 * would for a direct client (it may convert, or refuse), and its answer is passed through.
 *
 * <p>The upstream's bytes are kept exactly and served with the media type and digest that belong
 * to them; a body that does not hash to its digest is never cached nor served. Blocking.
 */
public final class ManifestService {
    /** Tag-key prefix for remembering which accept sets the upstream answered with a digest's own type. */
    private static final String BY_DIGEST = "@";
    /**
     * The accept key of tag resolutions made without a client (prefetch, import): they serve any
     * client that accepts their media type (any client at all when offline).
     */
    public static final String ANY_CLIENT = "*";

    private final MetadataStore metadata;
    private final HotMetadata hot;
    private final CacheJanitor janitor;
    private final Metrics metrics;
    private final Clock clock;
    private final boolean offline;

    public ManifestService(MetadataStore metadata, HotMetadata hot, CacheJanitor janitor, Metrics metrics, Clock clock,
                           boolean offline) {
        this.metadata = metadata;
        this.hot = hot;
        this.janitor = janitor;
        this.metrics = metrics;
        this.clock = clock;
        this.offline = offline;
    }

    public ProxyResponse get(Target target, Reference reference, List<String> accept) {
        String acceptKey = AcceptHeader.normalise(accept);
        if (reference instanceof Reference.ByDigest) {
            return byDigest(target, ((Reference.ByDigest) reference).value(), accept, acceptKey);
        }
        return byTag(target, ((Reference.Tag) reference).value(), accept, acceptKey);
    }

    /**
     * The answer when memory alone holds it, the same answer {@link #get} would give: a digest the
     * client accepts, or a tag within its TTL. Never touches disk or network, so the event loop may
     * call it and spare the hot path a thread hop. Empty means "ask {@link #get}".
     */
    public Optional<ProxyResponse> fromMemory(Target target, Reference reference, List<String> accept) {
        String acceptKey = AcceptHeader.normalise(accept);
        Optional<StoredManifest> manifest;
        if (reference instanceof Reference.ByDigest) {
            Digest digest = ((Reference.ByDigest) reference).value();
            manifest = hot.hotManifest(digest)
                    .filter(m -> offline || hot.hotLinked(target.upstreamName(), target.repository().value(), digest))
                    .filter(m -> AcceptHeader.types(accept).contains(m.mediaType())
                            || hot.hotTag(new TagKey(target.upstreamName(), "", BY_DIGEST + digest, acceptKey))
                            .map(r -> r.digest().equals(digest)).orElse(false));
        } else {
            TagKey key = new TagKey(target.upstreamName(), target.repository().value(), reference.toString(), acceptKey);
            long ttl = target.upstream().config().tagTtl().toMillis();
            manifest = hot.hotTag(key).filter(r -> offline || clock.millis() - r.checkedAtMillis() < ttl)
                    .flatMap(r -> hot.hotManifest(r.digest()));
        }
        if (manifest.isEmpty()) {
            return Optional.empty();
        }
        metrics.cacheLookup("manifest", true);
        return Optional.of(served(manifest.get(), true, Map.of()));
    }

    // ---------------------------------------------------------------- by digest

    private ProxyResponse byDigest(Target target, Digest digest, List<String> accept, String acceptKey) {
        Optional<StoredManifest> cached = metadata.manifest(digest);
        TagKey seen = new TagKey(target.upstreamName(), "", BY_DIGEST + digest, acceptKey);
        if (cached.isPresent() && acceptable(cached.get(), accept, seen)) {
            Optional<ProxyResponse> refused = checkRepositoryHolds(target, digest, accept);
            if (refused.isPresent()) {
                return refused.get();
            }
            metrics.cacheLookup("manifest", true);
            return served(cached.get(), true, Map.of());
        }
        metrics.cacheLookup("manifest", false);
        if (offline) {
            return UpstreamErrors.error(ErrorCode.MANIFEST_UNKNOWN, cached.isPresent()
                    ? "manifest " + digest + " is cached as " + cached.get().mediaType()
                            + ", which this client does not accept, and the proxy is offline"
                    : "manifest " + digest + " is not cached and the proxy is offline");
        }
        String what = describe(target, digest.toString());
        HttpResponse<byte[]> response;
        try {
            response = target.upstream().manifest("GET", target.repository(), digest.toString(), accept);
        } catch (IOException e) {
            return UpstreamErrors.forFailure(e, what, target.upstreamName());
        }
        if (response.statusCode() != 200) {
            return UpstreamErrors.fromUpstream(response.statusCode(), response.headers(), response.body(),
                    ErrorCode.MANIFEST_UNKNOWN, what, target.upstreamName());
        }
        String mediaType = mediaTypeOf(response);
        if (isSignedSchema1(mediaType)) {
            return passThroughSchema1(response, mediaType);
        }
        if (!digest.matches(response.body())) {
            return UpstreamErrors.error(ErrorCode.UPSTREAM_UNAVAILABLE, "upstream " + target.upstreamName()
                    + " sent bytes for " + digest + " that hash to something else; nothing was cached");
        }
        StoredManifest manifest = new StoredManifest(digest, mediaType, response.body());
        metadata.putManifestAndTag(manifest, seen, new TagResolution(digest, mediaType, clock.millis()));
        stored(target, manifest);
        return served(manifest, false, Map.of());
    }

    /** The client lists the stored type, or the upstream already gave this accept set these very bytes. */
    private boolean acceptable(StoredManifest manifest, List<String> accept, TagKey seen) {
        if (AcceptHeader.types(accept).contains(manifest.mediaType())) {
            return true;
        }
        return metadata.tag(seen).map(r -> r.digest().equals(manifest.digest())).orElse(false);
    }

    // ---------------------------------------------------------------- by tag

    private ProxyResponse byTag(Target target, String tag, List<String> accept, String acceptKey) {
        TagKey key = new TagKey(target.upstreamName(), target.repository().value(), tag, acceptKey);
        Optional<TagResolution> known = metadata.tag(key).or(() -> metadata.tag(
                new TagKey(target.upstreamName(), target.repository().value(), tag, ANY_CLIENT))
                .filter(r -> offline || AcceptHeader.types(accept).contains(r.mediaType())));
        Optional<StoredManifest> cached = known.flatMap(r -> metadata.manifest(r.digest()));
        long now = clock.millis();
        long age = known.map(r -> now - r.checkedAtMillis()).orElse(Long.MAX_VALUE);
        if (cached.isPresent() && age < target.upstream().config().tagTtl().toMillis()) {
            metrics.cacheLookup("manifest", true);
            return served(cached.get(), true, Map.of());
        }
        if (offline) {
            metrics.cacheLookup("manifest", cached.isPresent());
            return cached.isPresent() ? served(cached.get(), true, Map.of())
                    : UpstreamErrors.error(ErrorCode.MANIFEST_UNKNOWN, "tag " + tag + " is not cached and the proxy is offline");
        }
        if (cached.isPresent()) {
            Optional<ProxyResponse> revalidated = revalidate(target, tag, accept, key, known.get(), cached.get(), age);
            if (revalidated.isPresent()) {
                return revalidated.get();
            }
        }
        metrics.cacheLookup("manifest", false);
        return fetchTag(target, tag, accept, key, cached, age);
    }

    /**
     * {@code HEAD /v2/<name>/manifests/<tag>}: does not count against Docker Hub's pull limit. Empty
     * when the digest moved (the caller GETs the new one); the cached manifest when it did not, or
     * (stale, with a warning) when the upstream cannot say.
     */
    private Optional<ProxyResponse> revalidate(Target target, String tag, List<String> accept, TagKey key,
                                               TagResolution known, StoredManifest cached, long age) {
        HttpResponse<byte[]> head;
        try {
            head = target.upstream().manifest("HEAD", target.repository(), tag, accept);
        } catch (IOException e) {
            return stale(target, cached, age, "upstream " + target.upstreamName() + " unreachable");
        }
        if (UpstreamErrors.isOutage(head.statusCode())) {
            return stale(target, cached, age, "upstream " + target.upstreamName() + " answered " + head.statusCode());
        }
        boolean unchanged = head.statusCode() == 200 && head.headers().firstValue("Docker-Content-Digest")
                .map(known.digest().toString()::equals).orElse(false);
        if (!unchanged) {
            return Optional.empty();
        }
        metrics.cacheLookup("manifest", true);
        metadata.putTag(key, new TagResolution(known.digest(), known.mediaType(), clock.millis()));
        return Optional.of(served(cached, true, Map.of()));
    }

    private ProxyResponse fetchTag(Target target, String tag, List<String> accept, TagKey key,
                                   Optional<StoredManifest> cached, long age) {
        String what = describe(target, tag);
        HttpResponse<byte[]> response;
        try {
            response = target.upstream().manifest("GET", target.repository(), tag, accept);
        } catch (IOException e) {
            return cached.flatMap(c -> stale(target, c, age, "upstream " + target.upstreamName() + " unreachable"))
                    .orElseGet(() -> UpstreamErrors.forFailure(e, what, target.upstreamName()));
        }
        if (response.statusCode() != 200) {
            if (UpstreamErrors.isOutage(response.statusCode()) && cached.isPresent()) {
                Optional<ProxyResponse> stale = stale(target, cached.get(), age,
                        "upstream " + target.upstreamName() + " answered " + response.statusCode());
                if (stale.isPresent()) {
                    return stale.get();
                }
            }
            return UpstreamErrors.fromUpstream(response.statusCode(), response.headers(), response.body(),
                    ErrorCode.MANIFEST_UNKNOWN, what, target.upstreamName());
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
        metadata.putManifestAndTag(manifest, key, new TagResolution(digest, mediaType, clock.millis()));
        stored(target, manifest);
        return served(manifest, false, Map.of());
    }

    /** A cached tag past its TTL, while the upstream cannot answer: served up to maxStale, with a warning. */
    private Optional<ProxyResponse> stale(Target target, StoredManifest cached, long age, String why) {
        long limit = target.upstream().config().tagTtl().plus(target.upstream().config().maxStale()).toMillis();
        if (age >= limit) {
            return Optional.empty();
        }
        metrics.cacheLookup("manifest", true);
        return Optional.of(served(cached, true, Map.of("Warning", "299 - \"" + why + "; serving a cached tag\"")));
    }

    // ---------------------------------------------------------------- shared

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
    static String mediaTypeOf(HttpResponse<byte[]> response) {
        String type = response.headers().firstValue("Content-Type").orElse(MediaTypes.DOCKER_MANIFEST_V1_SIGNED);
        int semicolon = type.indexOf(';');
        return (semicolon < 0 ? type : type.substring(0, semicolon)).trim();
    }

    /**
     * A manifest verified from the upstream for this repository: it, and everything it names, is
     * in that repository. Then counts it against the cache bound.
     */
    private void stored(Target target, StoredManifest manifest) {
        linkWithReferences(metadata, target, manifest);
        janitor.added(manifest.bytes().length);
        janitor.evictIfNeeded();
    }

    /** Records that the target's repository holds the manifest and what it names. */
    static void linkWithReferences(MetadataStore metadata, Target target, StoredManifest manifest) {
        String repository = target.repository().value();
        metadata.link(target.upstreamName(), repository, manifest.digest());
        for (Digest referenced : ManifestReferences.of(manifest.bytes())) {
            metadata.link(target.upstreamName(), repository, referenced);
        }
    }

    /**
     * A digest cached for another repository is served for this one only once the upstream says
     * this repository holds it too ({@code HEAD}, free on Docker Hub), so a private repository's
     * manifests never leak through the shared cache. Empty when it may be served. While the
     * upstream cannot answer, or offline, the cache serves it (availability over the check).
     */
    private Optional<ProxyResponse> checkRepositoryHolds(Target target, Digest digest, List<String> accept) {
        return RepositoryLinks.check(metadata, target, digest, offline,
                () -> target.upstream().manifest("HEAD", target.repository(), digest.toString(), accept),
                ErrorCode.MANIFEST_UNKNOWN, describe(target, digest.toString()));
    }

    /** A manifest for the client; a cached one moves to the back of the eviction queue. */
    private ProxyResponse served(StoredManifest manifest, boolean fromCache, Map<String, String> headers) {
        janitor.accessed(manifest.digest());
        return new ProxyResponse.Manifest(manifest.mediaType(), manifest.digest(), manifest.bytes(), fromCache, headers);
    }

    private static String describe(Target target, String reference) {
        return "manifest " + reference + " of " + target.repository();
    }
}
