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

    /** One client request answered, by route kind and status. */
    public void request(String route, int status) {
        Counter.builder("pullthrough_requests")
                .description("Client requests by route and status")
                .tag("route", route).tag("status", Integer.toString(status))
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
