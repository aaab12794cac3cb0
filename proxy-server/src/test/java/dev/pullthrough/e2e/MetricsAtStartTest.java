package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 29, what {@link SeriesFromTheStartTest} left lazy: the per-upstream request, routing and
 * rate-limit counters and the storage write failures are on {@code /metrics} at 0 before the first
 * event; a 429 is counted as rate-limited; the Netty allocator gauge reads the allocator in use.
 */
class MetricsAtStartTest {
    @TempDir
    Path temp;

    private static String scrape(ProxyUnderTest proxy) {
        return new String(RegistryHttp.get(proxy.url(), "/metrics").body());
    }

    /** The value of the series written exactly as {@code series} (name and labels), if exported. */
    private static Optional<Double> value(String scraped, String series) {
        return scraped.lines().filter(line -> line.startsWith(series + " "))
                .map(line -> Double.parseDouble(line.substring(series.length() + 1))).findFirst();
    }

    // ---- series at 0 from the start

    @Test
    void freshProxy_perUpstreamRequestRoutingAndRateLimitSeriesAtZero() {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                + "  - name: docker.io\n    url: http://127.0.0.1:9\n    default: true\n"
                + "  - name: ghcr.io\n    url: http://127.0.0.1:9\n")) {
            String scraped = scrape(proxy);
            for (String upstream : List.of("docker.io", "ghcr.io")) {
                String u = "upstream=\"" + upstream + "\"";
                for (String series : List.of(
                        "pullthrough_upstream_rate_limited_total{" + u + "}",
                        "pullthrough_upstream_requests_total{kind=\"manifest\",method=\"GET\",status=\"200\"," + u + "}",
                        "pullthrough_upstream_requests_total{kind=\"manifest\",method=\"HEAD\",status=\"200\"," + u + "}",
                        "pullthrough_upstream_requests_total{kind=\"blob\",method=\"GET\",status=\"200\"," + u + "}",
                        "pullthrough_routed_requests_total{by=\"ns\"," + u + "}",
                        "pullthrough_routed_requests_total{by=\"prefix\"," + u + "}")) {
                    assertEquals(Optional.of(0.0), value(scraped, series), series + " at 0 in:\n" + scraped);
                }
            }
            assertEquals(Optional.of(0.0), value(scraped, "pullthrough_routed_requests_total{by=\"default\",upstream=\"docker.io\"}"),
                    scraped);
            assertFalse(scraped.contains("pullthrough_routed_requests_total{by=\"default\",upstream=\"ghcr.io\"}"),
                    "only the default upstream is chosen by default");
            assertEquals(Optional.of(0.0), value(scraped, "pullthrough_storage_write_failures_total"), scraped);
            // Unknown until the upstream states it: absent, not a 0 that would read as "no pulls left".
            assertFalse(scraped.contains("pullthrough_upstream_ratelimit_remaining{"), scraped);
        }
    }

    // ---- rate-limited

    @Test
    void upstreamAnswers429_eachAnswerCountedAsRateLimited() {
        try (FaultyUpstream limited = new FaultyUpstream().route("GET /v2/team/busy/manifests/v1",
                FaultyUpstream.fixed(429, "application/json", "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}".getBytes(),
                        Map.of("Retry-After", "60")));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                     + "  - name: docker.io\n    url: " + limited.url() + "\n    default: true\n")) {
            // The second pull may be answered from the proxy's memory of the Retry-After: only what the
            // upstream answered 429 counts.
            assertTrue(RegistryHttp.manifest(proxy.url(), "team/busy", "v1").statusCode() >= 400);
            assertTrue(RegistryHttp.manifest(proxy.url(), "team/busy", "v1").statusCode() >= 400);
            int answered429 = limited.count("GET /v2/team/busy/manifests/v1");
            assertTrue(answered429 >= 1, "the pull went upstream: " + answered429);
            assertEquals(Optional.of((double) answered429),
                    value(scrape(proxy), "pullthrough_upstream_rate_limited_total{upstream=\"docker.io\"}"));
        }
    }

    // ---- the allocator gauge

    @Test
    void nettyAllocatorGauge_afterRequests_readsTheMemoryTheChannelsAllocatorHolds() {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                + "  - name: docker.io\n    url: http://127.0.0.1:9\n    default: true\n")) {
            for (int i = 0; i < 3; i++) {
                assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/").statusCode());
            }
            // Netty 4.2's channels allocate from its adaptive allocator, which keeps chunks once it has
            // allocated: what it holds is above 0 after the requests that were decoded and answered.
            String series = "pullthrough_netty_allocator_used_bytes{memory=\"direct\"}";
            double direct = value(scrape(proxy), series).orElseThrow(() -> new AssertionError(series + " missing"));
            assertTrue(direct > 0, series + " after requests: " + direct);
        }
    }
}
