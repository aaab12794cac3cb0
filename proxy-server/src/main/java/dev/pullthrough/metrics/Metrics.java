package dev.pullthrough.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/** Every meter of the proxy, by name, in one place; the only class that imports Micrometer. */
public final class Metrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    public Metrics() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
    }

    /** One request sent to an upstream registry (GET or HEAD), by its answer's status. */
    public void upstreamRequest(String upstream, String method, String kind, int status) {
        Counter.builder("pullthrough_upstream_requests")
                .description("Requests sent to upstream registries")
                .tag("upstream", upstream).tag("method", method).tag("kind", kind).tag("status", Integer.toString(status))
                .register(registry).increment();
    }

    private final java.util.Map<String, java.util.concurrent.atomic.AtomicLong> gauges = new java.util.concurrent.ConcurrentHashMap<>();

    /** The upstream's latest {@code ratelimit-remaining} (Docker Hub: pulls left in its window). */
    public void upstreamRateLimitRemaining(String upstream, long remaining) {
        gauge("pullthrough_upstream_ratelimit_remaining", "Pulls the upstream says are left in its rate-limit window", upstream)
                .set(remaining);
    }

    /** The upstream's latest {@code ratelimit-limit}. */
    public void upstreamRateLimit(String upstream, long limit) {
        gauge("pullthrough_upstream_ratelimit_limit", "The upstream's rate limit per window", upstream).set(limit);
    }

    private java.util.concurrent.atomic.AtomicLong gauge(String name, String description, String upstream) {
        return gauges.computeIfAbsent(name + " " + upstream, k -> {
            java.util.concurrent.atomic.AtomicLong value = new java.util.concurrent.atomic.AtomicLong(-1);
            io.micrometer.core.instrument.Gauge.builder(name, value, java.util.concurrent.atomic.AtomicLong::get)
                    .description(description).tag("upstream", upstream).register(registry);
            return value;
        });
    }

    /** The value of a gauge, for tests; NaN when absent. */
    public double gaugeValue(String name, String... tags) {
        io.micrometer.core.instrument.Gauge gauge = registry.find(name).tags(tags).gauge();
        return gauge == null ? Double.NaN : gauge.value();
    }

    /** A cache lookup for a manifest or blob, and whether it was served locally. */
    public void cacheLookup(String kind, boolean hit) {
        Counter.builder("pullthrough_cache_lookups")
                .description("Cache lookups by kind (manifest, blob) and result (hit, miss)")
                .tag("kind", kind).tag("result", hit ? "hit" : "miss")
                .register(registry).increment();
    }

    /** Bytes sent to clients, by where they came from (cache, upstream). */
    public void bytesServed(String source, long bytes) {
        Counter.builder("pullthrough_served_bytes")
                .description("Blob and manifest bytes sent to clients, by source")
                .tag("source", source).register(registry).increment(bytes);
    }

    /** One client request answered, by route kind, method and status. */
    public void request(String route, String method, int status) {
        Counter.builder("pullthrough_requests")
                .description("Client requests by route, method and status")
                .tag("route", route).tag("method", method).tag("status", Integer.toString(status))
                .register(registry).increment();
    }

    /** One request routed to an upstream, and how the upstream was chosen (ns, prefix, default). */
    public void routed(String upstream, String by) {
        Counter.builder("pullthrough_routed_requests")
                .description("Requests by the upstream they went to and how it was chosen")
                .tag("upstream", upstream).tag("by", by)
                .register(registry).increment();
    }

    /** The value of a counter, for tests and the admin view; 0 when it never counted. */
    public double count(String name, String... tags) {
        Counter counter = registry.find(name).tags(tags).counter();
        return counter == null ? 0 : counter.count();
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
