package dev.pullthrough.admin;

import dev.pullthrough.inventory.CacheAdmin;
import dev.pullthrough.inventory.CachedImage;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.proxy.DownloadProgress;
import dev.pullthrough.proxy.KeepWarm;
import dev.pullthrough.upstream.CheckStep;
import dev.pullthrough.upstream.UpstreamCheck;
import dev.pullthrough.upstream.UpstreamChecks;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * What the status page shows, as plain data ({@code GET /status.json}): uptime, hit ratios, bytes by
 * source, per upstream the manifest GETs made and saved and its rate limit, downloads in flight,
 * disk used against the bound, the most pulled and largest images, recent upstream errors, the
 * cluster's state (a replica of one). The image
 * lists come from a scan of the cache's manifests, so they are at most {@link #IMAGES_MAX_AGE} old.
 */
public final class StatusReport {
    /** An upstream as the page names it. */
    public record UpstreamInfo(String name, String url) {}

    /** This replica in a cluster: its advertised address, and why it works alone now, if it does. */
    public record ClusterInfo(String advertise, Supplier<Optional<String>> degradation,
                              Supplier<Optional<RetentionInfo>> lastRetentionPass) {
        public ClusterInfo(String advertise, Supplier<Optional<String>> degradation) {
            this(advertise, degradation, Optional::empty);
        }
    }

    /** The cluster's last bucket retention pass (storage.s3.retention, issue 30). */
    public record RetentionInfo(Instant at, String replica, long deletedObjects, long deletedBytes, long keptObjects,
                                long uploadsAborted) {}

    static final Duration IMAGES_MAX_AGE = Duration.ofSeconds(30);
    private static final int TOP = 5;
    public static final String VERSION = Optional.ofNullable(StatusReport.class.getPackage().getImplementationVersion())
            .orElse("dev");

    private final Metrics metrics;
    private final List<UpstreamInfo> upstreams;
    private final LongSupplier usedBytes;
    private final long boundBytes;
    private final Supplier<List<DownloadProgress>> downloads;
    private final CacheAdmin cache;
    private final Optional<KeepWarm> keepWarm;
    private final Optional<ClusterInfo> cluster;
    private final Clock clock;
    private final Instant started;
    private final UpstreamChecks checks;
    private List<CachedImage> images = List.of();
    private Instant imagesRead = Instant.MIN;

    public StatusReport(Metrics metrics, List<UpstreamInfo> upstreams, LongSupplier usedBytes, long boundBytes,
                        Supplier<List<DownloadProgress>> downloads, CacheAdmin cache, Optional<KeepWarm> keepWarm,
                        Optional<ClusterInfo> cluster, Clock clock, UpstreamChecks checks) {
        this.checks = checks;
        this.keepWarm = keepWarm;
        this.cluster = cluster;
        this.metrics = metrics;
        this.upstreams = upstreams;
        this.usedBytes = usedBytes;
        this.boundBytes = boundBytes;
        this.downloads = downloads;
        this.cache = cache;
        this.clock = clock;
        this.started = clock.instant();
    }

    /** The report as maps and lists of plain values, ready for JSON. Blocking (may scan the cache). */
    public Map<String, Object> snapshot() {
        Instant now = clock.instant();
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("version", VERSION);
        report.put("now", now.toString());
        report.put("startedAt", started.toString());
        report.put("uptimeSeconds", Duration.between(started, now).toSeconds());
        report.put("hitRatio", Map.of("manifest", lookups("manifest"), "blob", lookups("blob")));
        report.put("servedBytes", Map.of("cache", (long) metrics.sum("pullthrough_served_bytes", "source", "cache"),
                "upstream", (long) metrics.sum("pullthrough_served_bytes", "source", "upstream")));
        report.put("upstreams", upstreams.stream().map(this::upstream).toList());
        report.put("downloads", downloads.get().stream().map(StatusReport::download).toList());
        report.put("disk", Map.of("usedBytes", usedBytes.getAsLong(), "boundBytes", boundBytes));
        List<CachedImage> cached = images(now);
        report.put("mostPulled", cached.stream().filter(i -> i.pulls() > 0)
                .sorted(Comparator.comparingLong(CachedImage::pulls).reversed()).limit(TOP).map(StatusReport::image).toList());
        report.put("largest", cached.stream().sorted(Comparator.comparingLong(CachedImage::size).reversed()).limit(TOP)
                .map(StatusReport::image).toList());
        report.put("cachedImages", cached.size());
        List<Map<String, Object>> errors = new ArrayList<>();
        for (Metrics.UpstreamError error : metrics.recentUpstreamErrors()) {
            errors.add(ordered("at", error.at().toString(), "upstream", error.upstream(), "what", error.what()));
        }
        report.put("recentErrors", errors);
        report.put("warm", keepWarm.map(StatusReport::warm).orElse(null));
        report.put("cluster", cluster.map(this::cluster).orElse(null));
        report.put("upstreamChecks", upstreamChecks());
        return report;
    }

    /**
     * {@code GET /upstreams.json} (issue 27): the last connectivity check of each upstream, every step
     * with its outcome, when it ended, how long it took and what it found or why it failed.
     */
    public Map<String, Object> upstreamChecks() {
        List<Map<String, Object>> upstreams = new ArrayList<>();
        for (String name : checks.upstreams()) {
            Optional<UpstreamCheck> check = checks.last(name);
            upstreams.add(ordered("name", name,
                    "url", check.map(UpstreamCheck::url).orElse(null),
                    "checkedAt", check.map(c -> c.startedAt().toString()).orElse(null),
                    "durationMillis", check.map(c -> c.took().toMillis()).orElse(null),
                    "ok", check.map(UpstreamCheck::passed).orElse(null),
                    "failedStep", check.flatMap(UpstreamCheck::failure).map(CheckStep::name).orElse(null),
                    "steps", check.map(c -> c.steps().stream().map(StatusReport::step).toList()).orElse(List.of())));
        }
        return ordered("intervalSeconds", checks.interval().toSeconds(), "runs", checks.runs(),
                "nextRun", checks.nextRun().map(Instant::toString).orElse(null), "upstreams", upstreams);
    }

    private static Map<String, Object> step(CheckStep step) {
        return ordered("step", step.name(), "outcome", step.outcome().word(), "at", step.at().toString(),
                "durationMillis", step.took().toMillis(),
                "detail", step.outcome() == CheckStep.Outcome.OK ? step.detail() : null,
                "cause", step.outcome() == CheckStep.Outcome.OK ? null : step.detail());
    }

    private synchronized List<CachedImage> images(Instant now) {
        if (Duration.between(imagesRead, now).compareTo(IMAGES_MAX_AGE) > 0) {
            images = cache.images(Optional.empty());
            imagesRead = now;
        }
        return images;
    }

    private Map<String, Object> lookups(String kind) {
        long hits = (long) metrics.sum("pullthrough_cache_lookups", "kind", kind, "result", "hit");
        long misses = (long) metrics.sum("pullthrough_cache_lookups", "kind", kind, "result", "miss");
        return ordered("hits", hits, "misses", misses, "ratio", hits + misses == 0 ? null : (double) hits / (hits + misses));
    }

    private Map<String, Object> upstream(UpstreamInfo upstream) {
        OptionalLong remaining = metrics.upstreamGauge("pullthrough_upstream_ratelimit_remaining", upstream.name());
        OptionalLong limit = metrics.upstreamGauge("pullthrough_upstream_ratelimit_limit", upstream.name());
        return ordered("name", upstream.name(), "url", upstream.url(),
                "manifestGets", (long) metrics.sum("pullthrough_upstream_requests", "upstream", upstream.name(),
                        "kind", "manifest", "method", "GET"),
                "pullsSaved", (long) metrics.sum("pullthrough_upstream_pulls_saved", "upstream", upstream.name()),
                "credentialsRefused", (long) metrics.sum("pullthrough_upstream_credentials_refused", "upstream", upstream.name()),
                "rateLimitRemaining", remaining.isPresent() ? remaining.getAsLong() : null,
                "rateLimit", limit.isPresent() ? limit.getAsLong() : null);
    }

    /** The cluster: coordinating or degraded, and how this replica's blob fetches and tag answers went. */
    private Map<String, Object> cluster(ClusterInfo info) {
        return ordered("advertise", info.advertise(), "degraded", info.degradation().get().orElse(null),
                "blobsFetched", (long) metrics.sum("pullthrough_cluster_blob_fetches", "source", "lease"),
                "blobsFromPeers", (long) metrics.sum("pullthrough_cluster_blob_fetches", "source", "peer"),
                "blobsAlone", (long) metrics.sum("pullthrough_cluster_blob_fetches", "source", "alone"),
                "tagsShared", (long) metrics.sum("pullthrough_cluster_tags_shared"),
                "bucketRetention", info.lastRetentionPass().get().map(pass -> ordered("lastPassAt", pass.at().toString(),
                        "replica", pass.replica(), "deletedObjects", pass.deletedObjects(), "deletedBytes", pass.deletedBytes(),
                        "keptObjects", pass.keptObjects(), "uploadsAborted", pass.uploadsAborted())).orElse(null));
    }

    /** Keep-warm: its images, the last run (when, and what it did per image) and when the next starts. */
    private static Map<String, Object> warm(KeepWarm warm) {
        Optional<KeepWarm.Run> last = warm.lastRun();
        List<Map<String, Object>> outcomes = new ArrayList<>();
        last.ifPresent(run -> run.outcomes().forEach(outcome -> outcomes.add(ordered("image", outcome.image(),
                "result", outcome.result(), "digest", outcome.digest().map(Object::toString).orElse(null)))));
        return ordered("interval", warm.interval().toSeconds(), "images", warm.images(),
                "runs", warm.runs(),
                "lastRun", last.map(run -> run.startedAt().toString()).orElse(null),
                "nextRun", last.map(run -> run.endedAt().plus(warm.interval()).toString()).orElse(null),
                "outcomes", outcomes);
    }

    private static Map<String, Object> download(DownloadProgress download) {
        return ordered("upstream", download.upstream(), "repository", download.repository(),
                "digest", download.digest().toString(), "bytes", download.bytes(), "size", download.size(),
                "clients", download.clients());
    }

    private static Map<String, Object> image(CachedImage image) {
        return ordered("name", image.name(), "tags", image.tags(), "digest", image.digest().toString(),
                "size", image.size(), "pulls", image.pulls(),
                "lastPulled", image.lastPulledMillis() == 0 ? null : Instant.ofEpochMilli(image.lastPulledMillis()).toString());
    }

    /** A map keeping the order of its keys (JSON readers of the page and people read it in order); values may be null. */
    private static Map<String, Object> ordered(Object... keysAndValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }
}
