package dev.pullthrough.proxy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.registry.api.Route;
import dev.pullthrough.upstream.Listing;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.UpstreamResult;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Tag lists and referrers: small JSON documents from the upstream, cached in memory for the
 * upstream's tag TTL (they change like tags do) and served stale, with a warning, while the
 * upstream is down, up to its maxStale. {@code Link} headers are rewritten to the client's name.
 */
public final class ListingService {
    /** A fetched listing (or a remembered 404) and when. */
    private record Entry(ProxyResponse response, long fetchedAtMillis) {
        int weight() {
            return response instanceof ProxyResponse.Json json ? json.body().length : 256;
        }
    }

    private final boolean offline;
    private final Clock clock;
    /**
     * The listings kept for stale serving share the heap with the hot manifests and the bodies in
     * flight (issue 26); a listing larger than this is served, not kept.
     */
    private final Cache<String, Entry> cache = Caffeine.newBuilder()
            .maximumWeight(8L << 20)
            .weigher((String key, Entry entry) -> key.length() + entry.weight())
            .build();

    public ListingService(boolean offline, Clock clock) {
        this.offline = offline;
        this.clock = clock;
    }

    public CompletableFuture<ProxyResponse> tags(Target target, Route.Tags route) {
        StringBuilder query = new StringBuilder("tags/list");
        char sep = '?';
        if (route.n().isPresent()) {
            query.append(sep).append("n=").append(route.n().get());
            sep = '&';
        }
        if (route.last().isPresent()) {
            query.append(sep).append("last=").append(URLEncoder.encode(route.last().get(), StandardCharsets.UTF_8));
        }
        return fetch(target, query.toString(), "tags", "tag list of " + target.repository(), ErrorCode.NAME_UNKNOWN, false);
    }

    public CompletableFuture<ProxyResponse> referrers(Target target, Route.Referrers route) {
        String query = "referrers/" + route.digest()
                + route.artifactType().map(t -> "?artifactType=" + URLEncoder.encode(t, StandardCharsets.UTF_8)).orElse("");
        // A 404 means the upstream has no referrers API (clients then fall back to tags): it will
        // not have one a second later, so the answer is kept like a listing.
        return fetch(target, query, "referrers", "referrers of " + route.digest(), ErrorCode.MANIFEST_UNKNOWN, true);
    }

    private CompletableFuture<ProxyResponse> fetch(Target target, String pathAndQuery, String kind, String what,
                                                   ErrorCode notFound, boolean keepNotFound) {
        String key = target.upstreamName() + " " + target.repository() + "/" + pathAndQuery;
        Entry cached = cache.getIfPresent(key);
        long now = clock.millis();
        long ttl = target.upstream().config().tagTtl().toMillis();
        if (cached != null && (offline || now - cached.fetchedAtMillis() < ttl)) {
            return CompletableFuture.completedFuture(cached.response());
        }
        if (offline) {
            return CompletableFuture.completedFuture(UpstreamErrors.error(notFound, what + " is not cached and the proxy is offline"));
        }
        return target.upstream().listing(target.repository(), pathAndQuery, kind).thenApply(answer -> {
            if (answer instanceof UpstreamResult.Refused<Listing> refused) {
                Refusal refusal = refused.refusal();
                ProxyResponse refusalResponse = UpstreamErrors.forRefusal(refusal, notFound, what, target.upstreamName());
                if (keepNotFound && isNotFound(refusal)) {
                    cache.put(key, new Entry(refusalResponse, now));
                } else if (refusal.isOutage()) {
                    return stale(target, cached, now, ttl, refusal).orElse(refusalResponse);
                }
                return refusalResponse;
            }
            Listing listing = ((UpstreamResult.Ok<Listing>) answer).value();
            Map<String, String> headers = new HashMap<>();
            listing.nextLink().ifPresent(link -> headers.put("Link", rewriteLink(link, target)));
            listing.filtersApplied().ifPresent(f -> headers.put("OCI-Filters-Applied", f));
            ProxyResponse.Json json = new ProxyResponse.Json(200, listing.contentType(), listing.body(), headers);
            cache.put(key, new Entry(json, now));
            // This client's copy holds the body's share of the memory budget until it is written.
            return new ProxyResponse.Json(200, listing.contentType(), listing.body(), headers, listing.permit());
        });
    }

    private static boolean isNotFound(Refusal refusal) {
        return refusal instanceof Refusal.NotFound || refusal instanceof Refusal.OwnError own && own.status() == 404;
    }

    /** A cached listing (not a remembered 404) within maxStale past its TTL, with a warning. */
    private Optional<ProxyResponse> stale(Target target, Entry cached, long now, long ttl, Refusal outage) {
        long limit = ttl + target.upstream().config().maxStale().toMillis();
        if (cached == null || !(cached.response() instanceof ProxyResponse.Json json) || now - cached.fetchedAtMillis() >= limit) {
            return Optional.empty();
        }
        Map<String, String> headers = new HashMap<>(json.headers());
        headers.put("Warning", "299 - \"upstream " + target.upstreamName() + " " + RefusalText.outageWords(outage)
                + "; serving a cached listing\"");
        return Optional.of(new ProxyResponse.Json(json.status(), json.contentType(), json.body(), headers));
    }

    /** The upstream's next-page link names its repository; the client must get the name it used. */
    static String rewriteLink(String link, Target target) {
        return link.replace("/v2/" + target.repository() + "/", "/v2/" + target.clientName() + "/");
    }
}
