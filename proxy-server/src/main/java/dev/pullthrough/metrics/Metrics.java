package dev.pullthrough.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/** Every meter of the proxy, by name, in one place; the only class that imports Micrometer. */
public final class Metrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    /**
     * Meters by name and tags: looking one up here is a hash lookup, where building and registering
     * it again on every request cost more than serving a cached manifest.
     */
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();

    private Counter counter(String name, String description, String... tags) {
        return counters.computeIfAbsent(name + String.join("\u0000", tags),
                k -> Counter.builder(name).description(description).tags(tags).register(registry));
    }

    public Metrics() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        // Labels known now: these series exist from the start, at 0, so a hit ratio's rate() has a
        // sample before the first hit (issue 29).
        for (String kind : List.of("manifest", "blob")) {
            cacheLookups(kind, true);
            cacheLookups(kind, false);
        }
        for (String source : List.of("cache", "upstream")) {
            servedBytes(source);
        }
        storageWriteFailures();
    }

    /** One request sent to an upstream registry (GET or HEAD), by its answer's status. */
    public void upstreamRequest(String upstream, String method, String kind, int status) {
        upstreamRequests(upstream, method, kind, status).increment();
    }

    private Counter upstreamRequests(String upstream, String method, String kind, int status) {
        return counter("pullthrough_upstream_requests", "Requests sent to upstream registries",
                "upstream", upstream, "method", method, "kind", kind, "status", Integer.toString(status));
    }

    /**
     * A client's manifest GET answered from the cache, with no GET upstream: a pull that Docker Hub
     * did not count. The pulls it did count are {@code pullthrough_upstream_requests{kind="manifest",method="GET"}}.
     */
    public void upstreamPullSaved(String upstream) {
        pullsSaved(upstream).increment();
    }

    private Counter pullsSaved(String upstream) {
        return counter("pullthrough_upstream_pulls_saved", "Client manifest GETs answered without a manifest GET upstream",
                "upstream", upstream);
    }

    /**
     * The series of a configured upstream whose labels are all known at start, at 0: a rate over them
     * has data before the first event (issue 29). Of the upstream requests, the successful GET and HEAD
     * of manifests and blobs (the "pulls made" panel reads them); other statuses appear when they happen.
     * The rate-limit gauges stay absent until the upstream states its limit: 0 would read as "spent".
     */
    public void upstreamSeries(String upstream) {
        pullsSaved(upstream);
        rateLimited(upstream);
        for (String method : List.of("GET", "HEAD")) {
            for (String kind : List.of("manifest", "blob")) {
                upstreamRequests(upstream, method, kind, 200);
            }
        }
        // Any upstream may be chosen by containerd's ns= or by its name as a path prefix.
        routedRequests(upstream, "ns");
        routedRequests(upstream, "prefix");
    }

    /** The upstream that requests with neither prefix nor ns= go to: its "default" routing series, at 0. */
    public void defaultUpstreamSeries(String upstream) {
        routedRequests(upstream, "default");
    }

    /** The upstream (or its token realm) answered 429: it is rate-limiting the proxy. */
    public void upstreamRateLimited(String upstream) {
        rateLimited(upstream).increment();
    }

    private Counter rateLimited(String upstream) {
        return counter("pullthrough_upstream_rate_limited", "Upstream requests answered 429 (rate-limited)", "upstream", upstream);
    }

    /**
     * A hot tag revalidated before its TTL ended (issue 28); {@code outcome} "renewed" (the upstream
     * confirmed it again) or "failed"; "none" makes the series exist from the start.
     */
    public void tagRefreshAhead(String upstream, String outcome) {
        Counter renewed = counter("pullthrough_tag_refreshes", "Hot tags revalidated in the background before their TTL ended",
                "upstream", upstream, "outcome", "renewed");
        Counter failed = counter("pullthrough_tag_refreshes", "Hot tags revalidated in the background before their TTL ended",
                "upstream", upstream, "outcome", "failed");
        if (outcome.equals("renewed")) {
            renewed.increment();
        } else if (outcome.equals("failed")) {
            failed.increment();
        }
    }

    /**
     * A client of a hot tag arrived after its previous confirmation had expired and was served at once,
     * because a refresh-ahead had renewed it: the upstream round trip it would have waited for.
     */
    public void tagRefreshWaitAvoided(String upstream) {
        counter("pullthrough_tag_refresh_waits_avoided", "Clients of hot tags served without waiting thanks to refresh-ahead",
                "upstream", upstream).increment();
    }

    /** Every refresh-ahead series of {@code upstream}, at 0. */
    public void tagRefreshSeries(String upstream) {
        tagRefreshAhead(upstream, "none");
        counter("pullthrough_tag_refresh_waits_avoided", "Clients of hot tags served without waiting thanks to refresh-ahead",
                "upstream", upstream);
    }

    /**
     * {@code times} requests the upstream (or its token realm) answered by refusing the proxy's
     * credentials (issue 27); 0 makes the series exist from the start.
     */
    public void upstreamCredentialsRefused(String upstream, long times) {
        counter("pullthrough_upstream_credentials_refused", "Upstream requests refused for the proxy's credentials (401/403)",
                "upstream", upstream).increment(times);
    }

    /**
     * {@code bytes} of a blob, verified against its digest, that a fallback {@code source} gave for
     * {@code upstream} (issue 27); called with 0 for every configured pair at start.
     */
    public void fallbackBlobBytes(String upstream, String source, long bytes) {
        counter("pullthrough_fallback_blob_bytes", "Verified blob bytes from an upstream's fallback sources",
                "upstream", upstream, "source", source).increment(bytes);
    }

    /**
     * {@code count} manifests a fallback {@code source} gave for {@code upstream}: {@code by} "digest"
     * (verified) or "tag" (borrowed while the upstream failed); called with 0 for every pair at start.
     */
    public void fallbackManifests(String upstream, String source, String by, long count) {
        counter("pullthrough_fallback_manifests", "Manifests from an upstream's fallback sources, by digest or by tag",
                "upstream", upstream, "source", source, "by", by).increment(count);
    }

    private final Map<String, AtomicLong> gauges = new ConcurrentHashMap<>();

    /** The upstream's latest {@code ratelimit-remaining} (Docker Hub: pulls left in its window). */
    public void upstreamRateLimitRemaining(String upstream, long remaining) {
        gauge("pullthrough_upstream_ratelimit_remaining", "Pulls the upstream says are left in its rate-limit window", upstream)
                .set(remaining);
    }

    /** The upstream's latest {@code ratelimit-limit}. */
    public void upstreamRateLimit(String upstream, long limit) {
        gauge("pullthrough_upstream_ratelimit_limit", "The upstream's rate limit per window", upstream).set(limit);
    }

    private AtomicLong gauge(String name, String description, String upstream) {
        return gauges.computeIfAbsent(name + " " + upstream, k -> {
            AtomicLong value = new AtomicLong(-1);
            Gauge.builder(name, value, AtomicLong::get)
                    .description(description).tag("upstream", upstream).register(registry);
            return value;
        });
    }

    /** An upstream failure as the status page lists it: when, which upstream, what. */
    public record UpstreamError(Instant at, String upstream, String what) {}

    private static final int RECENT_ERRORS = 20;
    private final Deque<UpstreamError> recentErrors = new ArrayDeque<>();

    /** An upstream request that failed or was refused (5xx, 429, 403, no answer); the last 20 are kept. */
    public void upstreamError(String upstream, String what) {
        synchronized (recentErrors) {
            if (recentErrors.size() == RECENT_ERRORS) {
                recentErrors.removeLast();
            }
            recentErrors.addFirst(new UpstreamError(Instant.now(), upstream, what));
        }
    }

    /** The latest upstream errors, newest first. */
    public List<UpstreamError> recentUpstreamErrors() {
        synchronized (recentErrors) {
            return List.copyOf(recentErrors);
        }
    }

    /** A gauge's value for one upstream, when it was ever set (rate limits). */
    public OptionalLong upstreamGauge(String name, String upstream) {
        AtomicLong value = gauges.get(name + " " + upstream);
        return value == null || value.get() < 0 ? OptionalLong.empty() : OptionalLong.of(value.get());
    }

    /** A cache lookup for a manifest or blob, and whether it was served locally. */
    public void cacheLookup(String kind, boolean hit) {
        cacheLookups(kind, hit).increment();
    }

    private Counter cacheLookups(String kind, boolean hit) {
        return counter("pullthrough_cache_lookups", "Cache lookups by kind (manifest, blob) and result (hit, miss)",
                "kind", kind, "result", hit ? "hit" : "miss");
    }

    /** Bytes sent to clients, by where they came from (cache, upstream). */
    public void bytesServed(String source, long bytes) {
        servedBytes(source).increment(bytes);
    }

    private Counter servedBytes(String source) {
        return counter("pullthrough_served_bytes", "Blob and manifest bytes sent to clients, by source", "source", source);
    }

    /** One client request answered, by route kind, method and status. */
    public void request(String route, String method, int status) {
        requests(route, method, status).increment();
    }

    private Counter requests(String route, String method, int status) {
        return counter("pullthrough_requests", "Client requests by route, method and status",
                "route", route, "method", method, "status", Integer.toString(status));
    }

    /** One request routed to an upstream, and how the upstream was chosen (ns, prefix, default). */
    public void routed(String upstream, String by) {
        routedRequests(upstream, by).increment();
    }

    private Counter routedRequests(String upstream, String by) {
        return counter("pullthrough_routed_requests", "Requests by the upstream they went to and how it was chosen",
                "upstream", upstream, "by", by);
    }

    /** A blob the cache could not store (disk full or unwritable); counted once per blob, not per chunk. */
    public void storageWriteFailure() {
        storageWriteFailures().increment();
    }

    private Counter storageWriteFailures() {
        return counter("pullthrough_storage_write_failures", "Blobs passed through uncached because the disk could not take them");
    }

    /** Something left the cache to keep it within storage.maxSize. */
    public void evicted(String kind, long bytes) {
        evictions(kind).increment();
        evictedBytes(kind).increment(bytes);
    }

    /**
     * The eviction series of every kind, at 0: before the first eviction a dashboard shows 0, not "no
     * data" (issue 29).
     */
    public void evictionSeries(List<String> kinds) {
        for (String kind : kinds) {
            evictions(kind);
            evictedBytes(kind);
        }
    }

    private Counter evictions(String kind) {
        return counter("pullthrough_evictions", "Entries evicted to keep the cache within its bound", "kind", kind);
    }

    private Counter evictedBytes(String kind) {
        return counter("pullthrough_evicted_bytes", "Bytes evicted to keep the cache within its bound", "kind", kind);
    }

    /** How long requests took, by route, as a histogram (Prometheus buckets). */
    public void requestDuration(String route, long nanos) {
        timers.computeIfAbsent(route, r -> Timer.builder("pullthrough_request_duration")
                .description("Time from request to the last byte of the response")
                .tag("route", r).publishPercentileHistogram().register(registry))
                .record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** 1 while this replica cannot reach the cluster's Redis and goes on alone, 0 while it coordinates. */
    public void clusterDegraded(java.util.function.BooleanSupplier degraded) {
        Gauge.builder("pullthrough_cluster_degraded", () -> degraded.getAsBoolean() ? 1 : 0)
                .description("1 while Redis is unreachable and this replica fetches for itself").register(registry);
    }

    /**
     * Where a blob this replica lacked came from in a cluster: {@code lease} (this replica fetched it
     * for the cluster), {@code peer} (streamed from the replica fetching it), {@code alone} (Redis
     * unreachable, or no peer could serve it: fetched without coordinating).
     */
    public void clusterBlobSource(String source) {
        clusterBlobFetches(source).increment();
    }

    /** A tag resolution taken from another replica (through Redis) instead of asking the upstream. */
    public void clusterTagShared() {
        clusterTagsShared().increment();
    }

    /**
     * A replica in a cluster: its cluster counters exist from the start, at 0 (issue 29), and so do the
     * peer requests it serves the others with success (the dashboard's "peer requests served").
     */
    public void clusterSeries() {
        for (String source : List.of("lease", "peer", "alone")) {
            clusterBlobFetches(source);
        }
        clusterTagsShared();
        requests("peer", "GET", 200);
    }

    private Counter clusterBlobFetches(String source) {
        return counter("pullthrough_cluster_blob_fetches", "Blob fetches in a cluster by how they were coordinated", "source", source);
    }

    private Counter clusterTagsShared() {
        return counter("pullthrough_cluster_tags_shared", "Tag resolutions another replica made, used instead of asking the upstream");
    }

    /**
     * The bucket retention (storage.s3.retention, issue 30), from the start at 0: what the passes this
     * replica ran deleted, and what the cluster's last pass kept ({@code kept}, read when scraped).
     */
    public void bucketRetentionSeries(LongSupplier keptObjects) {
        bucketRetentionDeleted();
        bucketRetentionDeletedBytes();
        bucketRetentionUploadsAborted();
        Gauge.builder("pullthrough_bucket_retention_kept_objects", keptObjects::getAsLong)
                .description("Bucket objects the last retention pass kept, in use or named by a cached tag").register(registry);
    }

    /** A retention pass this replica ran. */
    public void bucketRetentionPass(long deletedObjects, long deletedBytes, long uploadsAborted) {
        bucketRetentionDeleted().increment(deletedObjects);
        bucketRetentionDeletedBytes().increment(deletedBytes);
        bucketRetentionUploadsAborted().increment(uploadsAborted);
    }

    private Counter bucketRetentionDeleted() {
        return counter("pullthrough_bucket_retention_deleted_objects", "Bucket objects deleted as unused for the retention");
    }

    private Counter bucketRetentionDeletedBytes() {
        return counter("pullthrough_bucket_retention_deleted_bytes", "Bytes of bucket objects deleted as unused for the retention");
    }

    private Counter bucketRetentionUploadsAborted() {
        return counter("pullthrough_bucket_retention_uploads_aborted", "Unfinished multipart uploads aborted after a day");
    }

    /** Upstream blob downloads in flight, read when scraped. */
    public void inFlightDownloads(LongSupplier count) {
        Gauge.builder("pullthrough_downloads_in_flight", count::getAsLong).description("Upstream blob downloads running")
                .register(registry);
    }

    /**
     * The connection pools (one per origin: registry, token realm, blob CDN hosts) and the connections
     * an upstream's client holds now, read when scraped: both are bounded whatever origins it redirects to.
     */
    public void upstreamConnections(String upstream, LongSupplier originPools, LongSupplier connections) {
        Gauge.builder("pullthrough_upstream_origin_pools", originPools::getAsLong).tag("upstream", upstream)
                .description("Origins an upstream's client keeps a connection pool for").register(registry);
        Gauge.builder("pullthrough_upstream_connections", connections::getAsLong).tag("upstream", upstream)
                .description("Connections open to an upstream's origins, idle or busy").register(registry);
    }

    /** The memory Netty's buffer allocator (the one the channels use) holds, read when scraped. */
    public void nettyMemory(LongSupplier direct, LongSupplier heap) {
        Gauge.builder("pullthrough_netty_allocator_used_bytes", direct::getAsLong).tag("memory", "direct")
                .description("Memory held by Netty's buffer allocator").register(registry);
        Gauge.builder("pullthrough_netty_allocator_used_bytes", heap::getAsLong).tag("memory", "heap")
                .description("Memory held by Netty's buffer allocator").register(registry);
    }

    /** Gauges of the cache's size and its bound, read when scraped. */
    public void cacheSize(LongSupplier used, long bound) {
        Gauge.builder("pullthrough_cache_used_bytes", used::getAsLong).description("Bytes the cache holds").register(registry);
        Gauge.builder("pullthrough_cache_bound_bytes", () -> bound).description("storage.maxSize").register(registry);
    }

    /** The sum over all counters of that name matching the tags. */
    public double sum(String name, String... tags) {
        return registry.find(name).tags(tags).counters().stream().mapToDouble(Counter::count).sum();
    }

    /** The Prometheus text exposition. */
    public String scrape() {
        return registry.scrape();
    }
}
