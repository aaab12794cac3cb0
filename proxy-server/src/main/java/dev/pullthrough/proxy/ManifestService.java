package dev.pullthrough.proxy;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidDigestException;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.registry.api.AcceptHeader;
import dev.pullthrough.registry.api.ApiError;
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
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Manifests through the cache, indistinguishable from the upstream for every {@code Accept}.
 *
 * <p>By tag: the manifest the upstream stores for a tag is kept once and answers every client that
 * lists its media type, whatever else it accepts ({@link TagAnswers}); answers that differ per
 * accept set are kept per accept set. It is trusted for the upstream's tag TTL, then revalidated
 * with one {@code HEAD} (free on Docker Hub), a {@code GET} only when the digest moved to something
 * not cached. Only when nothing cached fits a client does its {@code Accept} go upstream. While the
 * upstream is down or limiting us, a fitting stale answer is served with a {@code Warning} for up
 * to {@code maxStale}.
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
    private static final int TAG_LOCK_STRIPES = 1024;

    private final MetadataStore metadata;
    private final HotMetadata hot;
    private final ManifestAdmission admission;
    private final CacheJanitor janitor;
    private final Metrics metrics;
    private final Clock clock;
    private final boolean offline;
    private final KeyedLocks tagLocks = new KeyedLocks(TAG_LOCK_STRIPES);

    public ManifestService(MetadataStore metadata, HotMetadata hot, ManifestAdmission admission, CacheJanitor janitor,
                           Metrics metrics, Clock clock, boolean offline) {
        this.metadata = metadata;
        this.hot = hot;
        this.admission = admission;
        this.janitor = janitor;
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

    /**
     * The answer when memory alone holds it, the same answer {@link #get} would give: a digest the
     * client accepts, or a tag within its TTL. Never touches disk or network, so the event loop may
     * call it and spare the hot path a thread hop. Empty means "ask {@link #get}".
     */
    public Optional<ProxyResponse> fromMemory(Target target, Reference reference, List<String> accept) {
        Optional<StoredManifest> manifest;
        if (reference instanceof Reference.ByDigest) {
            Digest digest = ((Reference.ByDigest) reference).value();
            manifest = hot.hotManifest(digest)
                    .filter(m -> offline || hot.hotLinked(target.upstreamName(), target.repository().value(), digest))
                    .filter(m -> AcceptHeader.types(accept).contains(m.mediaType())
                            || hot.hotTag(seenKey(target, digest, accept)).map(r -> r.digest().equals(digest)).orElse(false));
        } else {
            long ttl = target.upstream().config().tagTtl().toMillis();
            manifest = chosen(hot::hotTag, target, reference.toString(), accept)
                    .filter(r -> offline || clock.millis() - r.checkedAtMillis() < ttl)
                    .flatMap(r -> hot.hotManifest(r.digest()));
        }
        if (manifest.isEmpty()) {
            return Optional.empty();
        }
        metrics.cacheLookup("manifest", true);
        return Optional.of(served(manifest.get(), true, Map.of()));
    }

    // ---------------------------------------------------------------- by digest

    private ProxyResponse byDigest(Target target, Digest digest, List<String> accept) {
        Optional<StoredManifest> cached = metadata.manifest(digest);
        TagKey seen = seenKey(target, digest, accept);
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
        StoredManifest manifest;
        try {
            manifest = admission.admit(target.upstreamName(), target.repository().value(), digest, mediaType, response.body());
        } catch (ManifestAdmission.Refused e) {
            return notCached(target, what, e);
        }
        if (!AcceptHeader.types(accept).contains(mediaType)) {
            metadata.putTag(seen, new TagResolution(digest, mediaType, clock.millis()));
        }
        return served(manifest, false, Map.of());
    }

    /** The client lists the stored type, or the upstream already gave this accept set these very bytes. */
    private boolean acceptable(StoredManifest manifest, List<String> accept, TagKey seen) {
        if (AcceptHeader.types(accept).contains(manifest.mediaType())) {
            return true;
        }
        return metadata.tag(seen).map(r -> r.digest().equals(manifest.digest())).orElse(false);
    }

    private static TagKey seenKey(Target target, Digest digest, List<String> accept) {
        return new TagKey(target.upstreamName(), "", BY_DIGEST + digest, AcceptHeader.normalise(accept));
    }

    // ---------------------------------------------------------------- by tag

    /** A cached resolution of a tag that fits a client, with its manifest and how old it is. */
    private record Cached(TagResolution resolution, StoredManifest manifest, long ageMillis) {}

    private ProxyResponse byTag(Target target, String tag, List<String> accept) {
        long ttl = target.upstream().config().tagTtl().toMillis();
        Optional<Cached> cached = cached(target, tag, accept);
        if (cached.isPresent() && (offline || cached.get().ageMillis() < ttl)) {
            metrics.cacheLookup("manifest", true);
            return served(cached.get().manifest(), true, Map.of());
        }
        if (offline) {
            metrics.cacheLookup("manifest", false);
            return UpstreamErrors.error(ErrorCode.MANIFEST_UNKNOWN, nothingFits(target, tag, accept) + " and the proxy is offline");
        }
        // One conversation with the upstream per tag: clients arriving together cost one request,
        // the later ones find what the first one cached.
        return tagLocks.withLock(target.upstreamName() + '\0' + target.repository() + '\0' + tag, () -> {
            Optional<Cached> now = cached(target, tag, accept);
            if (now.isPresent() && now.get().ageMillis() < ttl) {
                metrics.cacheLookup("manifest", true);
                return served(now.get().manifest(), true, Map.of());
            }
            return askUpstream(target, tag, accept, now);
        });
    }

    /**
     * Nothing cached fits this client within the TTL. {@code HEAD} first when some manifest of the
     * tag is cached (the digest it names may be too), {@code GET} otherwise or when that is not enough.
     */
    private ProxyResponse askUpstream(Target target, String tag, List<String> accept, Optional<Cached> cached) {
        boolean somethingCached = cached.isPresent() || ownManifest(target, tag).isPresent();
        if (somethingCached) {
            Optional<ProxyResponse> fromHead = revalidate(target, tag, accept, cached);
            if (fromHead.isPresent()) {
                return fromHead.get();
            }
        }
        metrics.cacheLookup("manifest", false);
        return fetchTag(target, tag, accept, cached);
    }

    /**
     * {@code HEAD /v2/<name>/manifests/<tag>}: does not count against Docker Hub's pull limit. The
     * cached manifest it names when that is cached (recorded as the answer for this client, which
     * refreshes the tag for every client it fits); stale, with a warning, when the upstream cannot
     * say. Empty when a {@code GET} is needed.
     */
    private Optional<ProxyResponse> revalidate(Target target, String tag, List<String> accept, Optional<Cached> cached) {
        HttpResponse<byte[]> head;
        try {
            head = target.upstream().manifest("HEAD", target.repository(), tag, accept);
        } catch (IOException e) {
            return Optional.of(staleOr(target, tag, accept, cached, "upstream " + target.upstreamName() + " unreachable",
                    () -> UpstreamErrors.forFailure(e, describe(target, tag), target.upstreamName())));
        }
        if (UpstreamErrors.isOutage(head.statusCode())) {
            return Optional.of(staleOr(target, tag, accept, cached,
                    "upstream " + target.upstreamName() + " answered " + head.statusCode(),
                    () -> UpstreamErrors.forStatus(head.statusCode(), head.headers(), ErrorCode.MANIFEST_UNKNOWN,
                            describe(target, tag), target.upstreamName())));
        }
        if (head.statusCode() != 200) {
            return Optional.empty(); // gone or refused: the GET brings the upstream's own error body
        }
        Optional<StoredManifest> named = head.headers().firstValue("Docker-Content-Digest")
                .flatMap(ManifestService::tryParse).flatMap(metadata::manifest);
        if (named.isEmpty()) {
            return Optional.empty();
        }
        StoredManifest manifest = named.get();
        if (!metadata.linked(target.upstreamName(), target.repository().value(), manifest.digest())) {
            admission.link(target.upstreamName(), target.repository().value(), manifest); // the upstream just said it is there
        }
        record(target, tag, accept, manifest);
        metrics.cacheLookup("manifest", true);
        return Optional.of(served(manifest, true, Map.of()));
    }

    private ProxyResponse fetchTag(Target target, String tag, List<String> accept, Optional<Cached> cached) {
        String what = describe(target, tag);
        HttpResponse<byte[]> response;
        try {
            response = target.upstream().manifest("GET", target.repository(), tag, accept);
        } catch (IOException e) {
            return staleOr(target, tag, accept, cached, "upstream " + target.upstreamName() + " unreachable",
                    () -> UpstreamErrors.forFailure(e, what, target.upstreamName()));
        }
        if (response.statusCode() != 200) {
            ProxyResponse refusal = UpstreamErrors.fromUpstream(response.statusCode(), response.headers(), response.body(),
                    ErrorCode.MANIFEST_UNKNOWN, what, target.upstreamName());
            if (UpstreamErrors.isOutage(response.statusCode())) {
                return staleOr(target, tag, accept, cached,
                        "upstream " + target.upstreamName() + " answered " + response.statusCode(), () -> refusal);
            }
            return refusal;
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
        StoredManifest manifest;
        try {
            manifest = admission.admit(target.upstreamName(), target.repository().value(), digest, mediaType, response.body());
        } catch (ManifestAdmission.Refused e) {
            return notCached(target, what, e);
        }
        record(target, tag, accept, manifest);
        return served(manifest, false, Map.of());
    }

    /** Keeps what the upstream answered this client for the tag: as the tag's own manifest, for its accept set, or both. */
    private void record(Target target, String tag, List<String> accept, StoredManifest manifest) {
        Set<String> types = AcceptHeader.types(accept);
        TagResolution resolution = new TagResolution(manifest.digest(), manifest.mediaType(), clock.millis());
        if (TagAnswers.isOwn(manifest.mediaType(), types)) {
            metadata.putTag(TagKey.own(target.upstreamName(), target.repository().value(), tag), resolution);
        }
        if (TagAnswers.keepForAcceptSet(manifest.mediaType(), types)) {
            metadata.putTag(acceptKey(target, tag, accept), resolution);
        }
    }

    /** The cached answer that fits this client, if its manifest is still cached. */
    private Optional<Cached> cached(Target target, String tag, List<String> accept) {
        long now = clock.millis();
        return chosen(metadata::tag, target, tag, accept)
                .flatMap(r -> metadata.manifest(r.digest()).map(m -> new Cached(r, m, now - r.checkedAtMillis())));
    }

    private static Optional<TagResolution> chosen(Function<TagKey, Optional<TagResolution>> tags, Target target, String tag,
                                                  List<String> accept) {
        return TagAnswers.choose(tags.apply(TagKey.own(target.upstreamName(), target.repository().value(), tag)),
                tags.apply(acceptKey(target, tag, accept)), AcceptHeader.types(accept));
    }

    private Optional<StoredManifest> ownManifest(Target target, String tag) {
        return metadata.tag(TagKey.own(target.upstreamName(), target.repository().value(), tag))
                .flatMap(r -> metadata.manifest(r.digest()));
    }

    private static TagKey acceptKey(Target target, String tag, List<String> accept) {
        return new TagKey(target.upstreamName(), target.repository().value(), tag, AcceptHeader.normalise(accept));
    }

    /**
     * While the upstream cannot answer: the cached answer that fits this client, past its TTL, up
     * to maxStale, with a warning. Otherwise the upstream's failure, saying what is cached.
     */
    private ProxyResponse staleOr(Target target, String tag, List<String> accept, Optional<Cached> cached, String why,
                                  Supplier<ProxyResponse> failure) {
        long limit = target.upstream().config().tagTtl().plus(target.upstream().config().maxStale()).toMillis();
        if (cached.isPresent() && cached.get().ageMillis() < limit) {
            metrics.cacheLookup("manifest", true);
            return served(cached.get().manifest(), true, Map.of("Warning", "299 - \"" + why + "; serving a cached tag\""));
        }
        ProxyResponse error = failure.get();
        if (cached.isEmpty() && error instanceof ProxyResponse.Error) {
            ProxyResponse.Error e = (ProxyResponse.Error) error;
            return new ProxyResponse.Error(new ApiError(e.error().code(),
                    e.error().message() + "; " + nothingFits(target, tag, accept)), e.headers());
        }
        return error;
    }

    /** Says what is cached for the tag and what the client accepts, when nothing cached fits it. */
    private String nothingFits(Target target, String tag, List<String> accept) {
        String subject = "tag " + tag + " of " + target.repository();
        Optional<StoredManifest> own = ownManifest(target, tag);
        if (own.isEmpty()) {
            return subject + " is not cached for this client";
        }
        Set<String> types = AcceptHeader.types(accept);
        return subject + " is cached as " + own.get().mediaType() + ", which this client does not list in Accept (it lists "
                + (types.isEmpty() ? "no media type" : String.join(", ", new TreeSet<>(types))) + ")";
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

    private static ProxyResponse notCached(Target target, String what, ManifestAdmission.Refused refused) {
        return UpstreamErrors.error(ErrorCode.UPSTREAM_UNAVAILABLE, "upstream " + target.upstreamName() + " sent " + what
                + " that cannot be cached: " + refused.getMessage() + "; nothing was cached");
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
