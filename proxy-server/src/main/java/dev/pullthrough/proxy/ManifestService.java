package dev.pullthrough.proxy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidDigestException;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.registry.api.AcceptHeader;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.HotMetadata;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import dev.pullthrough.upstream.BodyBudget;
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.ManifestHead;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.UpstreamResult;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Manifests through the cache, indistinguishable from the upstream for every {@code Accept}.
 *
 * <p>By tag: the manifest the upstream stores for a tag is kept once and answers every client that
 * lists its media type, whatever else it accepts ({@link TagAnswers}); answers that differ per
 * accept set are kept per accept set. It is trusted for the upstream's tag TTL, then revalidated
 * with one {@code HEAD} (free on Docker Hub), a {@code GET} only when the digest moved to something
 * not cached. Only when nothing cached fits a client does its {@code Accept} go upstream. While the
 * upstream is down or limiting us, a fitting stale answer is served with a {@code Warning} for up
 * to {@code maxStale}. With nothing to serve so, a fallback source's answer for the tag is served (issue 27),
 * with a {@code Warning} naming the source, and kept apart ({@link BorrowedTags}) for the tag TTL only.
 *
 * <p>By digest: immutable bytes, served from cache when the client accepts their media type (or
 * this accept set was already given them by the upstream). Otherwise the upstream decides, as it
 * would for a direct client (it may convert, or refuse), and its answer is passed through.
 *
 * <p>The upstream's bytes are kept exactly and served with the media type and digest that belong
 * to them; a body that does not hash to its digest is never cached nor served. Lookups block on
 * the metadata store (callers run them off the event loop); no thread waits for the upstream: what
 * follows its answer runs on {@code blocking}.
 */
public final class ManifestService {
    /** Tag-key prefix for remembering which accept sets the upstream answered with a digest's own type. */
    private static final String BY_DIGEST = "@";
    /** How long an outage of a tag's upstream is believed without asking again. */
    private static final Duration OUTAGE_MEMORY = Duration.ofSeconds(5);

    private final MetadataStore metadata;
    private final HotMetadata hot;
    private final ManifestAdmission admission;
    private final CacheJanitor janitor;
    private final Metrics metrics;
    private final Clock clock;
    private final boolean offline;
    private final Executor blocking;
    private final SharedTags shared;
    private final SingleFlight tagFlights = new SingleFlight();
    /**
     * Tags whose upstream conversation just ended in an outage (down, silent, limiting us): clients
     * queued behind that one are answered from what is cached at once instead of each waiting out
     * the same timeout in turn, and a dead upstream is not asked again for a moment.
     */
    private final Cache<String, Refusal> recentOutages;
    /** Tags answered by a fallback source while the upstream failed and nothing was cached (issue 27). */
    private final BorrowedTags borrowed;
    /** Hot tags, revalidated in the background before their TTL ends (issue 28). */
    private final RefreshAhead refreshAhead = new RefreshAhead();

    public ManifestService(MetadataStore metadata, HotMetadata hot, ManifestAdmission admission, CacheJanitor janitor,
                           Metrics metrics, Clock clock, boolean offline, Executor blocking) {
        this(metadata, hot, admission, janitor, metrics, clock, offline, blocking, SharedTags.NONE);
    }

    /** {@code shared}: the tag resolutions of the other replicas of a cluster. */
    public ManifestService(MetadataStore metadata, HotMetadata hot, ManifestAdmission admission, CacheJanitor janitor,
                           Metrics metrics, Clock clock, boolean offline, Executor blocking, SharedTags shared) {
        this.shared = shared;
        this.blocking = blocking;
        this.metadata = metadata;
        this.hot = hot;
        this.admission = admission;
        this.janitor = janitor;
        this.metrics = metrics;
        this.clock = clock;
        this.offline = offline;
        this.borrowed = new BorrowedTags(clock);
        // On the service's clock, so that in-process tests move past an outage's memory as past a TTL.
        this.recentOutages = Caffeine.newBuilder().ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
                .expireAfterWrite(OUTAGE_MEMORY).maximumSize(100_000).build();
    }

    /** The answer for a manifest request; blocks on the metadata store, never on the upstream. */
    public CompletableFuture<ProxyResponse> get(Target target, Reference reference, List<String> accept) {
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
            Optional<TagResolution> fresh = chosen(hot::hotTag, target, reference.toString(), accept)
                    .filter(r -> offline || clock.millis() - r.checkedAtMillis() < ttl);
            manifest = fresh.flatMap(r -> hot.hotManifest(r.digest()));
            if (manifest.isPresent()) {
                hit(target, reference.toString(), accept, fresh.get().mediaType(), fresh.get().checkedAtMillis());
            }
        }
        if (manifest.isEmpty()) {
            return Optional.empty();
        }
        metrics.cacheLookup("manifest", true);
        return Optional.of(served(manifest.get(), true, Map.of()));
    }

    // ---------------------------------------------------------------- by digest

    private CompletableFuture<ProxyResponse> byDigest(Target target, Digest digest, List<String> accept) {
        Optional<StoredManifest> cached = metadata.manifest(digest);
        TagKey seen = seenKey(target, digest, accept);
        if (cached.isPresent() && acceptable(cached.get(), accept, seen)) {
            return checkRepositoryHolds(target, digest, accept).thenApply(refused -> {
                if (refused.isPresent()) {
                    return refused.get();
                }
                metrics.cacheLookup("manifest", true);
                return served(cached.get(), true, Map.of());
            });
        }
        metrics.cacheLookup("manifest", false);
        if (offline) {
            return done(UpstreamErrors.error(ErrorCode.MANIFEST_UNKNOWN, cached.isPresent()
                    ? "manifest " + digest + " is cached as " + cached.get().mediaType()
                            + ", which this client does not accept, and the proxy is offline"
                    : "manifest " + digest + " is not cached and the proxy is offline"));
        }
        String what = describe(target, digest.toString());
        return target.upstream().manifest(target.repository(), digest.toString(), accept).thenApplyAsync(answer -> {
            if (answer instanceof UpstreamResult.Refused<ManifestBody> refused) {
                return UpstreamErrors.forRefusal(refused.refusal(), ErrorCode.MANIFEST_UNKNOWN, what, target.upstreamName());
            }
            ManifestBody body = ((UpstreamResult.Ok<ManifestBody>) answer).value();
            if (isSignedSchema1(body.mediaType())) {
                return passThroughSchema1(body);
            }
            return admitAndServe(target, what, digest, body, accept, manifest -> {
                if (!AcceptHeader.types(accept).contains(manifest.mediaType())) {
                    metadata.putTag(seen, new TagResolution(digest, manifest.mediaType(), clock.millis()));
                }
            });
        }, blocking);
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

    /** The cached manifest of a tag that fits a client, and how long ago the upstream last confirmed it (at {@code checkedAtMillis}). */
    private record Cached(StoredManifest manifest, long ageMillis, long checkedAtMillis) {}

    private CompletableFuture<ProxyResponse> byTag(Target target, String tag, List<String> accept) {
        long ttl = target.upstream().config().tagTtl().toMillis();
        Optional<Cached> cached = cached(target, tag, accept);
        if (cached.isPresent() && (offline || cached.get().ageMillis() < ttl)) {
            metrics.cacheLookup("manifest", true);
            hit(target, tag, accept, cached.get().manifest().mediaType(), cached.get().checkedAtMillis());
            return done(served(cached.get().manifest(), true, Map.of()));
        }
        if (offline) {
            metrics.cacheLookup("manifest", false);
            return done(UpstreamErrors.error(ErrorCode.MANIFEST_UNKNOWN, nothingFits(target, tag, accept)
                    + " and the proxy is offline"));
        }
        // One conversation with the upstream per tag: clients arriving together cost one request,
        // the later ones find what the first one cached.
        String flight = flightKey(target, tag);
        return tagFlights.run(flight, () -> {
            Optional<Cached> now = cached(target, tag, accept);
            if (fresh(now, ttl)) {
                metrics.cacheLookup("manifest", true);
                return done(served(now.get().manifest(), true, Map.of()));
            }
            Refusal outage = recentOutages.getIfPresent(flight);
            if (outage != null) {
                return staleOrBorrowed(target, tag, accept, now, outage);
            }
            return fromOtherReplicas(target, tag, accept, now).thenCompose(theirs -> fresh(theirs, ttl)
                    ? done(sharedAnswer(theirs.get()))
                    : askOrAwaitAnotherReplica(target, tag, accept, flight, ttl, theirs.isPresent() ? theirs : now));
        }, blocking);
    }

    // ---------------------------------------------------------------- refresh-ahead (issue 28)

    /**
     * A client was served the answer the upstream confirmed at {@code checkedAt}, within its TTL. A
     * hot answer near its TTL's end is revalidated in the background; clients go on being served the
     * confirmed answer meanwhile, so none waits on the upstream, and none gets an answer past its TTL.
     */
    private void hit(Target target, String tag, List<String> accept, String mediaType, long checkedAt) {
        if (offline || !target.upstream().config().refreshAhead()) {
            return;
        }
        // One heat per answer: every accept set served the tag's own manifest shares it, so a mixed
        // fleet costs one HEAD per TTL, not one per kind of client.
        String key = flightKey(target, tag) + '\0' + mediaType;
        RefreshAhead.Hit hit = refreshAhead.hit(key, checkedAt, clock.millis(), target.upstream().config().tagTtl().toMillis());
        if (hit.waitAvoided()) {
            metrics.tagRefreshWaitAvoided(target.upstreamName());
        }
        if (hit.refresh()) {
            blocking.execute(() -> refresh(target, tag, accept, key, checkedAt));
        }
    }

    /** Revalidates a hot tag as the next client past its TTL would (the same single flight, HEAD first). */
    private void refresh(Target target, String tag, List<String> accept, String key, long startedFor) {
        String flight = flightKey(target, tag);
        long ttl = target.upstream().config().tagTtl().toMillis();
        tagFlights.run(flight, () -> {
            Optional<Cached> now = cached(target, tag, accept);
            if (now.isEmpty() || now.get().checkedAtMillis() != startedFor || recentOutages.getIfPresent(flight) != null) {
                return done((ProxyResponse) null); // confirmed meanwhile, gone, or the upstream just failed
            }
            return askOrAwaitAnotherReplica(target, tag, accept, flight, ttl, now);
        }, blocking).whenCompleteAsync((response, failure) -> {
            if (response != null) {
                response.release(); // no client waits for this answer
            }
            boolean renewed = cached(target, tag, accept).map(c -> c.checkedAtMillis() != startedFor).orElse(false);
            refreshAhead.done(key, startedFor, renewed);
            metrics.tagRefreshAhead(target.upstreamName(), renewed ? "renewed" : "failed");
        }, blocking);
    }

    /**
     * One replica of a cluster asks the upstream about a tag; the others wait for its answer and take
     * it. {@code known}: the freshest answer this replica has (its own, or another's past its TTL).
     */
    private CompletableFuture<ProxyResponse> askOrAwaitAnotherReplica(Target target, String tag, List<String> accept,
                                                                     String flight, long ttl, Optional<Cached> known) {
        Function<Boolean, CompletableFuture<ProxyResponse>> next = lead -> lead
                // Past its TTL, another replica's answer still spares a GET: the HEAD revalidates it.
                ? askUpstream(target, tag, accept, known).whenComplete((answer, failure) -> shared.done(flight))
                : fromOtherReplicas(target, tag, accept, known).thenCompose(after -> fresh(after, ttl)
                        ? done(sharedAnswer(after.get()))
                        : askUpstream(target, tag, accept, after.isPresent() ? after : known));
        CompletableFuture<Boolean> lead = shared.lead(flight);
        // Decided at once (a single node, or a free lease answered already): no thread hop.
        return lead.isDone() ? lead.thenCompose(next) : lead.thenComposeAsync(next, blocking);
    }

    private static boolean fresh(Optional<Cached> cached, long ttl) {
        return cached.isPresent() && cached.get().ageMillis() < ttl;
    }

    /** Another replica's answer, within its TTL: served as a hit, no upstream request. */
    private ProxyResponse sharedAnswer(Cached theirs) {
        metrics.cacheLookup("manifest", true);
        metrics.clusterTagShared();
        return served(theirs.manifest(), true, Map.of());
    }

    /**
     * What another replica of the cluster learnt about the tag more recently than this one: taken
     * over (its manifest read by digest, from the shared bucket when there, and admitted like any
     * upstream answer: its digest is checked) and kept here with the time of that replica's check.
     * Empty when nothing newer fits this client.
     */
    private CompletableFuture<Optional<Cached>> fromOtherReplicas(Target target, String tag, List<String> accept,
                                                                 Optional<Cached> mine) {
        TagKey own = TagKey.own(target.upstreamName(), target.repository().value(), tag);
        TagKey forAccept = acceptKey(target, tag, accept);
        Map<TagKey, TagResolution> theirs = shared.get(List.of(own, forAccept));
        Optional<TagResolution> fits = TagAnswers.choose(Optional.ofNullable(theirs.get(own)),
                Optional.ofNullable(theirs.get(forAccept)), AcceptHeader.types(accept));
        long now = clock.millis();
        if (fits.isEmpty() || mine.isPresent() && now - mine.get().ageMillis() >= fits.get().checkedAtMillis()) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        TagResolution resolution = fits.get();
        Runnable keep = () -> theirs.forEach((key, r) -> {
            if (metadata.tag(key).map(local -> local.checkedAtMillis() < r.checkedAtMillis()).orElse(true)) {
                metadata.putTag(key, r);
            }
        });
        Optional<StoredManifest> cached = metadata.manifest(resolution.digest());
        if (cached.isPresent()) {
            keep.run();
            return CompletableFuture.completedFuture(Optional.of(new Cached(cached.get(), now - resolution.checkedAtMillis(),
                    resolution.checkedAtMillis())));
        }
        return target.upstream().manifest(target.repository(), resolution.digest().toString(), accept).thenApplyAsync(answer -> {
            if (!(answer instanceof UpstreamResult.Ok<ManifestBody> ok)) {
                return Optional.<Cached>empty();
            }
            try (ManifestBody body = ok.value()) {
                if (isSignedSchema1(body.mediaType())) {
                    return Optional.<Cached>empty();
                }
                StoredManifest manifest = admission.admit(target.upstreamName(), target.repository().value(),
                        resolution.digest(), body.mediaType(), body.bytes(), AcceptHeader.types(accept));
                keep.run();
                return Optional.of(new Cached(manifest, clock.millis() - resolution.checkedAtMillis(), resolution.checkedAtMillis()));
            } catch (ManifestAdmission.Refused e) {
                return Optional.<Cached>empty();
            }
        }, blocking);
    }

    /**
     * Nothing cached fits this client within the TTL. {@code HEAD} first when some manifest of the
     * tag is cached (the digest it names may be too), {@code GET} otherwise or when that is not enough.
     */
    private CompletableFuture<ProxyResponse> askUpstream(Target target, String tag, List<String> accept,
                                                         Optional<Cached> cached) {
        boolean somethingCached = cached.isPresent() || ownManifest(target, tag).isPresent();
        if (!somethingCached) {
            metrics.cacheLookup("manifest", false);
            return fetchTag(target, tag, accept, cached);
        }
        return revalidate(target, tag, accept, cached).thenCompose(fromHead -> {
            if (fromHead.isPresent()) {
                return done(fromHead.get());
            }
            metrics.cacheLookup("manifest", false);
            return fetchTag(target, tag, accept, cached);
        });
    }

    /**
     * {@code HEAD /v2/<name>/manifests/<tag>}: does not count against Docker Hub's pull limit. The
     * cached manifest it names when that is cached (recorded as the answer for this client, which
     * refreshes the tag for every client it fits); stale, with a warning, when the upstream cannot
     * say. Empty when a {@code GET} is needed.
     */
    private CompletableFuture<Optional<ProxyResponse>> revalidate(Target target, String tag, List<String> accept,
                                                                  Optional<Cached> cached) {
        return target.upstream().headManifest(target.repository(), tag, accept).thenComposeAsync(answer -> {
            if (answer instanceof UpstreamResult.Refused<ManifestHead> refused) {
                if (refused.refusal().isOutage()) {
                    recentOutages.put(flightKey(target, tag), refused.refusal());
                    return staleOrBorrowed(target, tag, accept, cached, refused.refusal()).thenApply(Optional::of);
                }
                return CompletableFuture.completedFuture(Optional.<ProxyResponse>empty()); // gone or refused: the GET brings the upstream's own error body
            }
            Optional<StoredManifest> named = ((UpstreamResult.Ok<ManifestHead>) answer).value().declaredDigest()
                    .flatMap(ManifestService::tryParse).flatMap(metadata::manifest);
            if (named.isEmpty()) {
                return CompletableFuture.completedFuture(Optional.<ProxyResponse>empty());
            }
            StoredManifest manifest = named.get();
            if (!metadata.linked(target.upstreamName(), target.repository().value(), manifest.digest())) {
                admission.link(target.upstreamName(), target.repository().value(), manifest); // the upstream just said it is there
            }
            record(target, tag, accept, manifest);
            metrics.cacheLookup("manifest", true);
            return CompletableFuture.completedFuture(Optional.of(served(manifest, true, Map.of())));
        }, blocking);
    }

    private CompletableFuture<ProxyResponse> fetchTag(Target target, String tag, List<String> accept, Optional<Cached> cached) {
        String what = describe(target, tag);
        return target.upstream().manifest(target.repository(), tag, accept).thenComposeAsync(answer -> {
            if (answer instanceof UpstreamResult.Refused<ManifestBody> refused) {
                if (refused.refusal().isOutage()) {
                    recentOutages.put(flightKey(target, tag), refused.refusal());
                    return staleOrBorrowed(target, tag, accept, cached, refused.refusal());
                }
                return done(UpstreamErrors.forRefusal(refused.refusal(), ErrorCode.MANIFEST_UNKNOWN, what, target.upstreamName()));
            }
            return done(admitTag(target, tag, accept, what, ((UpstreamResult.Ok<ManifestBody>) answer).value()));
        }, blocking);
    }

    /** The upstream's answer for a tag, admitted, recorded and served. */
    private ProxyResponse admitTag(Target target, String tag, List<String> accept, String what, ManifestBody body) {
        if (isSignedSchema1(body.mediaType())) {
            return passThroughSchema1(body);
        }
        Digest digest;
        try {
            digest = body.declaredDigest().map(Digest::parse).orElseGet(() -> Digest.sha256Of(body.bytes()));
        } catch (InvalidDigestException e) {
            body.close();
            return UpstreamErrors.error(ErrorCode.UPSTREAM_UNAVAILABLE,
                    "upstream " + target.upstreamName() + " sent an invalid Docker-Content-Digest: " + e.getMessage());
        }
        return admitAndServe(target, what, digest, body, accept, manifest -> record(target, tag, accept, manifest));
    }

    /**
     * Admits what the upstream sent this client and serves it, after {@code remember} kept how it was
     * asked for; or says why it cannot be cached (then nothing is served, nothing kept).
     */
    private ProxyResponse admitAndServe(Target target, String what, Digest digest, ManifestBody body, List<String> accept,
                                        Consumer<StoredManifest> remember) {
        StoredManifest manifest;
        try {
            manifest = admission.admit(target.upstreamName(), target.repository().value(), digest, body.mediaType(),
                    body.bytes(), AcceptHeader.types(accept));
        } catch (ManifestAdmission.Refused e) {
            body.close();
            return notCached(target, what, e);
        } catch (RuntimeException e) {
            body.close();
            throw e;
        }
        remember.accept(manifest);
        janitor.accessed(manifest.digest());
        return new ProxyResponse.Manifest(manifest.mediaType(), manifest.digest(), manifest.bytes(), false, Map.of(), body.permit());
    }

    /** Keeps what the upstream answered this client for the tag: as the tag's own manifest, for its accept set, or both. */
    private void record(Target target, String tag, List<String> accept, StoredManifest manifest) {
        Set<String> types = AcceptHeader.types(accept);
        TagResolution resolution = new TagResolution(manifest.digest(), manifest.mediaType(), clock.millis());
        // The other replicas may use it as long as this one may serve it, stale included.
        Duration keep = target.upstream().config().tagTtl().plus(target.upstream().config().maxStale());
        if (TagAnswers.isOwn(manifest.mediaType(), types)) {
            TagKey own = TagKey.own(target.upstreamName(), target.repository().value(), tag);
            metadata.putTag(own, resolution);
            shared.put(own, resolution, keep);
        }
        if (TagAnswers.keepForAcceptSet(manifest.mediaType(), types)) {
            TagKey forAccept = acceptKey(target, tag, accept);
            metadata.putTag(forAccept, resolution);
            shared.put(forAccept, resolution, keep);
        }
    }

    /** The cached answer that fits this client, if its manifest is still cached. */
    private Optional<Cached> cached(Target target, String tag, List<String> accept) {
        long now = clock.millis();
        return chosen(metadata::tag, target, tag, accept)
                .flatMap(r -> metadata.manifest(r.digest()).map(m -> new Cached(m, now - r.checkedAtMillis(), r.checkedAtMillis())));
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

    private static String flightKey(Target target, String tag) {
        return target.upstreamName() + '\0' + target.repository() + '\0' + tag;
    }

    private static TagKey acceptKey(Target target, String tag, List<String> accept) {
        return new TagKey(target.upstreamName(), target.repository().value(), tag, AcceptHeader.normalise(accept));
    }

    /**
     * While the upstream cannot answer: what is cached ({@link #staleOr}) when it may be served;
     * otherwise a fallback source's answer for the tag (issue 27), served with a Warning naming the
     * source and kept apart for the tag TTL only, never recorded as the upstream's resolution.
     */
    private CompletableFuture<ProxyResponse> staleOrBorrowed(Target target, String tag, List<String> accept,
                                                           Optional<Cached> cached, Refusal outage) {
        if (servableStale(target, cached)) {
            return done(staleOr(target, tag, accept, cached, outage));
        }
        String key = flightKey(target, tag) + '\0' + AcceptHeader.normalise(accept);
        Duration ttl = target.upstream().config().tagTtl();
        Optional<ProxyResponse> known = borrowed.get(key, ttl)
                .flatMap(b -> metadata.manifest(b.resolution().digest()).map(m -> {
                    janitor.accessed(m.digest());
                    return borrowedAnswer(target, outage, b.source(), m, BodyBudget.Permit.NONE);
                }));
        if (known.isPresent()) {
            return done(known.get());
        }
        return target.upstream().borrowTag(target.repository(), tag, accept).thenApplyAsync(answer -> {
            if (answer.isEmpty()) {
                return staleOr(target, tag, accept, cached, outage);
            }
            ManifestBody body = answer.get().body();
            String source = answer.get().source();
            try {
                Digest digest = body.declaredDigest().flatMap(ManifestService::tryParse).orElseGet(() -> Digest.sha256Of(body.bytes()));
                StoredManifest manifest = admission.admit(target.upstreamName(), target.repository().value(), digest,
                        body.mediaType(), body.bytes(), AcceptHeader.types(accept));
                borrowed.put(key, new BorrowedTags.Borrowed(new TagResolution(digest, manifest.mediaType(), clock.millis()), source));
                janitor.accessed(manifest.digest());
                return borrowedAnswer(target, outage, source, manifest, body.permit());
            } catch (ManifestAdmission.Refused e) {
                body.close();
                return staleOr(target, tag, accept, cached, outage);
            } catch (RuntimeException e) {
                body.close();
                throw e;
            }
        }, blocking);
    }

    private boolean servableStale(Target target, Optional<Cached> cached) {
        long limit = target.upstream().config().tagTtl().plus(target.upstream().config().maxStale()).toMillis();
        return cached.isPresent() && cached.get().ageMillis() < limit;
    }

    /** A tag as a fallback source answered it, with a Warning that says so (RFC 7234 299, as for stale tags). */
    private ProxyResponse borrowedAnswer(Target target, Refusal outage, String source, StoredManifest manifest,
                                        BodyBudget.Permit permit) {
        metrics.cacheLookup("manifest", false);
        return new ProxyResponse.Manifest(manifest.mediaType(), manifest.digest(), manifest.bytes(), false,
                Map.of("Warning", "299 - \"upstream " + target.upstreamName() + " " + RefusalText.outageWords(outage)
                        + "; serving the tag as fallback " + source + " resolves it\""), permit);
    }

    /**
     * While the upstream cannot answer: the cached answer that fits this client, past its TTL, up
     * to maxStale, with a warning. Otherwise the upstream's failure, saying what is cached.
     */
    private ProxyResponse staleOr(Target target, String tag, List<String> accept, Optional<Cached> cached, Refusal outage) {
        if (servableStale(target, cached)) {
            metrics.cacheLookup("manifest", true);
            String why = "upstream " + target.upstreamName() + " " + RefusalText.outageWords(outage);
            return served(cached.get().manifest(), true, Map.of("Warning", "299 - \"" + why + "; serving a cached tag\""));
        }
        ProxyResponse error = UpstreamErrors.forRefusal(outage, ErrorCode.MANIFEST_UNKNOWN, describe(target, tag),
                target.upstreamName());
        if (cached.isEmpty() && error instanceof ProxyResponse.Error e) {
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
    private static ProxyResponse passThroughSchema1(ManifestBody body) {
        Digest digest = body.declaredDigest().flatMap(ManifestService::tryParse).orElseGet(() -> Digest.sha256Of(body.bytes()));
        return new ProxyResponse.Manifest(body.mediaType(), digest, body.bytes(), false, Map.of(), body.permit());
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
    private CompletableFuture<Optional<ProxyResponse>> checkRepositoryHolds(Target target, Digest digest, List<String> accept) {
        return RepositoryLinks.check(metadata, target, digest, offline,
                () -> target.upstream().headManifest(target.repository(), digest.toString(), accept),
                ErrorCode.MANIFEST_UNKNOWN, describe(target, digest.toString()), blocking);
    }

    private static CompletableFuture<ProxyResponse> done(ProxyResponse response) {
        return CompletableFuture.completedFuture(response);
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
