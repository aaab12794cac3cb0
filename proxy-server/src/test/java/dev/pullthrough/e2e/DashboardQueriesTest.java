package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.storage.s3.S3ProxyServer;
import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Grafana dashboard (deploy/grafana/pullthrough.json) against a real Prometheus (Debian
 * {@code prometheus}) scraping the proxy while it pulls: every panel's every query returns a finite value,
 * above 0 where the traffic must have produced one. Cold, warm, evicting and rate-limited traffic goes to a
 * single proxy; cluster traffic (a shared tag, a blob streamed from the replica fetching it) to two
 * replicas on one bucket (S3Proxy) and one redis-server, scraped too (issue 29).
 */
class DashboardQueriesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path DASHBOARD = Path.of("..", "deploy", "grafana", "pullthrough.json");

    @TempDir
    Path temp;

    @Test
    void everyPanelQuery_returnsFiniteValuesForTrafficWhileScraped() throws Exception {
        Path prometheusBinary = Processes.require("/usr/bin/prometheus", "prometheus");
        List<String> queries = new ArrayList<>();
        JSON.readTree(DASHBOARD.toFile()).get("panels").forEach(panel -> panel.get("targets").forEach(target ->
                // Grafana's own variables, as it would fill them in for a short range
                queries.add(target.get("expr").asText().replace("$__rate_interval", "1m").replace("$__range", "10m"))));
        assertTrue(queries.size() >= 10, "the dashboard has its panels: " + queries);

        byte[] big = new byte[256 * 1024];
        new Random(29).nextBytes(big);
        Digest bigDigest = Digest.sha256Of(big);
        // Held after its first 64 KiB until the second replica streams it from the first (a peer fetch),
        // however slow the machine.
        CountDownLatch release = new CountDownLatch(1);
        try (ReferenceRegistry registry = ReferenceRegistry.start(temp.resolve("upstream"));
             // An upstream that reports a rate limit, as Docker Hub does (the reference registry does not),
             // and spends it: 429 for another repository.
             FaultyUpstream limited = new FaultyUpstream().route("GET /v2/team/limited/manifests/v1",
                     FaultyUpstream.fixed(404, "application/json", "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}".getBytes(),
                             Map.of("ratelimit-limit", "100;w=21600", "ratelimit-remaining", "98;w=21600")))
                     .route("GET /v2/team/busy/manifests/v1", FaultyUpstream.fixed(429, "application/json",
                             "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}".getBytes(), Map.of("ratelimit-remaining", "0;w=21600")));
             FaultyUpstream held = new FaultyUpstream().route("GET /v2/team/big/blobs/" + bigDigest,
                     FaultyUpstream.held(big, 64 * 1024, release));
             S3ProxyServer s3 = S3ProxyServer.start(temp.resolve("s3proxy"));
             RedisServer redis = RedisServer.start(temp.resolve("redis"));
             // A bound smaller than the two images together: the second pull evicts. Two layers each, so
             // that a layer is well within half the bound (a larger blob is passed through, uncached).
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "storage:\n  maxSize: 120KiB\nupstreams:\n"
                     + "  - name: docker.io\n    url: " + registry.url() + "\n    default: true\n"
                     + "  - name: limited\n    url: " + limited.url() + "\n")) {
            TestImages images = new TestImages(registry.url(), 81);
            Pushed first = images.pushImage("team/one", "v1", Format.OCI, 2, 32 * 1024);
            Pushed second = images.pushImage("team/two", "v1", Format.OCI, 2, 32 * 1024);

            try (S3Bucket bucket = S3Bucket.open(s3.config("dashboard", ""))) {
                bucket.createIfMissing().join();
            }
            Files.writeString(temp.resolve("cluster-secret"), "the-dashboard-cluster-secret\n");

            // The traffic runs while Prometheus scrapes, with scrapes between its steps: a rate() sees
            // each step's increase only between two samples (issue 29: pulls made before the first
            // scrape left every rate at 0 and every ratio NaN, and the test could not tell).
            try (ProxyUnderTest a = replica("a", s3, redis, registry.url(), held.url());
                 ProxyUnderTest b = replica("b", s3, redis, registry.url(), held.url());
                 Prometheus prometheus = Prometheus.start(prometheusBinary, temp.resolve("prometheus"),
                         List.of(proxy.url(), a.url(), b.url()))) {
                awaitScrapes(prometheus, 2);
                // Cold, warm twice (a counter created by the first hit has its first sample there: the
                // second shows the increase), then one that needs room; each step asks the rate-limited
                // upstream too.
                for (Pushed image : List.of(first, first, first, second)) {
                    pull(proxy, image);
                    RegistryHttp.manifest(proxy.url(), "limited/team/limited", "v1");
                    assertTrue(RegistryHttp.manifest(proxy.url(), "limited/team/busy", "v1").statusCode() >= 400, "nothing to serve");
                    awaitScrapes(prometheus, 2);
                }
                clusterTraffic(a, b, first, held, bigDigest, big, release);
                awaitScrapes(prometheus, 2);
                for (String query : queries) {
                    JsonNode answer = prometheus.query(query);
                    assertEquals("success", answer.get("status").asText(), query + ": " + answer);
                    if (answer.get("data").get("result").size() == 0) {
                        // What Prometheus holds, to tell a failed scrape (up 0, stale series) from a missing series.
                        throw new AssertionError("no data for " + query + "; up: " + prometheus.query("up").get("data")
                                + "; scrapes of the last minute: " + prometheus.query("count_over_time(up[1m])").get("data")
                                + "; samples: " + prometheus.query("{__name__=~\"pullthrough_requests_total|pullthrough_cluster_degraded\"}[1m]")
                                .get("data"));
                    }
                    assertTrue(values(answer).stream().anyMatch(Double::isFinite), "only NaN for " + query + ": " + answer);
                }
                List<Double> ratios = values(prometheus.query(queryOf(queries, "pullthrough_cache_lookups_total{result=\"hit\"}")));
                assertTrue(ratios.stream().filter(Double::isFinite).allMatch(r -> r >= 0 && r <= 1), "hit ratios " + ratios);
                assertTrue(ratios.stream().anyMatch(r -> r > 0), "the warm pull hit: " + ratios);
                assertPositive(prometheus, queryOf(queries, "pullthrough_evicted_bytes_total"), "evicted bytes");
                assertPositive(prometheus, queryOf(queries, "pullthrough_served_bytes_total"), "bytes served");
                assertPositive(prometheus, queryOf(queries, "method=\"GET\"}[10m]"), "upstream GETs by tag");
                assertPositive(prometheus, queryOf(queries, "pullthrough_upstream_pulls_saved_total"), "pulls saved");
                assertPositive(prometheus, queryOf(queries, "pullthrough_requests_total"), "client requests");
                assertPositive(prometheus, queryOf(queries, "pullthrough_upstream_rate_limited_total"), "rate-limited");
                assertPositive(prometheus, queryOf(queries, "pullthrough_cluster_tags_shared_total"), "shared tags");
                List<Double> peerFetches = new ArrayList<>();
                prometheus.query(queryOf(queries, "pullthrough_cluster_blob_fetches_total")).get("data").get("result")
                        .forEach(series -> {
                            if (series.get("metric").path("source").asText().equals("peer")) {
                                peerFetches.add(series.get("value").get(1).asDouble());
                            }
                        });
                assertTrue(peerFetches.size() == 1 && peerFetches.get(0) > 0, "peer fetches above 0: " + peerFetches);
                assertEquals(List.of(0.0), values(prometheus.query(queryOf(queries, "pullthrough_cluster_degraded"))),
                        "no replica degraded while Redis runs");
            }
        }
    }

    /** A cluster replica in front of the reference registry (docker.io) and the holding upstream ({@code held}). */
    private ProxyUnderTest replica(String name, S3ProxyServer s3, RedisServer redis, URI registry, URI held) {
        int port = Loopback.freePort();
        String yaml = "storage:\n" + String.join("\n", s3.yaml("dashboard")) + "\ncluster:\n  redis: " + redis.uri()
                + "\n  advertise: http://127.0.0.1:" + port + "\n  secretFile: " + temp.resolve("cluster-secret")
                + "\nupstreams:\n  - name: docker.io\n    url: " + registry + "\n    default: true\n"
                + "  - name: held\n    url: " + held + "\n";
        return ProxyUnderTest.start(temp.resolve(name), yaml, port, port);
    }

    /**
     * A tag resolved by replica a, then asked of b (which takes a's resolution: a shared tag); a blob
     * fetched by a and held mid-body while b asks for it (b streams it from a: a peer fetch).
     */
    private static void clusterTraffic(ProxyUnderTest a, ProxyUnderTest b, Pushed image, FaultyUpstream held, Digest digest,
                                       byte[] blob, CountDownLatch release) throws Exception {
        assertEquals(200, RegistryHttp.manifest(a.url(), image.repository(), image.tag()).statusCode());
        assertEquals(200, RegistryHttp.manifest(b.url(), image.repository(), image.tag()).statusCode());
        String path = "/v2/held/team/big/blobs/" + digest;
        ExecutorService clients = Executors.newFixedThreadPool(2);
        try {
            Future<HttpResponse<byte[]>> fromA = clients.submit(() -> RegistryHttp.get(a.url(), path));
            Await.until(() -> held.count("GET /v2/team/big/blobs/" + digest) == 1, Duration.ofSeconds(30), "replica a fetching");
            Future<HttpResponse<byte[]>> fromB = clients.submit(() -> RegistryHttp.get(b.url(), path));
            // Awaited on a's side (it answered b's peer request), not on the counter the panel reads.
            Await.until(() -> a.metrics().sum("pullthrough_requests", "route", "peer", "status", "200") == 1, Duration.ofSeconds(30),
                    "replica b streaming the blob from a");
            release.countDown();
            assertArrayEquals(blob, fromA.get(60, TimeUnit.SECONDS).body());
            assertArrayEquals(blob, fromB.get(60, TimeUnit.SECONDS).body());
            assertEquals(1, held.count("GET /v2/team/big/blobs/" + digest), "fetched once for the cluster");
        } finally {
            release.countDown();
            clients.shutdownNow();
        }
    }

    private static void pull(ProxyUnderTest proxy, Pushed image) {
        assertEquals(200, RegistryHttp.manifest(proxy.url(), image.repository(), image.tag()).statusCode());
        for (Digest blob : image.blobs()) {
            assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/" + image.repository() + "/blobs/" + blob).statusCode());
        }
    }

    /**
     * Waits for {@code scrapes} more successful scrapes of each target (counted per target: one scraped
     * more often must not stand in for one whose scrapes timed out on a busy machine).
     */
    private static void awaitScrapes(Prometheus prometheus, int scrapes) throws Exception {
        Map<String, Double> before = prometheus.scrapesByTarget();
        Await.until(() -> {
            Map<String, Double> now = prometheus.scrapesByTarget();
            return now.size() == prometheus.targets && before.entrySet().stream()
                    .allMatch(target -> now.getOrDefault(target.getKey(), 0.0) >= target.getValue() + scrapes);
        }, Duration.ofSeconds(60), scrapes + " more scrapes of each target");
    }

    /** The dashboard query that mentions {@code part}. */
    private static String queryOf(List<String> queries, String part) {
        return queries.stream().filter(q -> q.contains(part)).findFirst()
                .orElseThrow(() -> new AssertionError("no panel queries " + part + ": " + queries));
    }

    private static List<Double> values(JsonNode answer) {
        List<Double> values = new ArrayList<>();
        answer.get("data").get("result").forEach(series -> values.add(series.get("value").get(1).asDouble()));
        return values;
    }

    private static void assertPositive(Prometheus prometheus, String query, String what) throws IOException {
        List<Double> values = values(prometheus.query(query));
        assertTrue(values.stream().anyMatch(v -> v > 0), what + " above 0: " + query + " gave " + values);
    }

    /** A real Prometheus scraping {@code targets} every second, on a free loopback port. */
    private static final class Prometheus implements AutoCloseable {
        private final Process process;
        private final URI url;
        final int targets;

        private Prometheus(Process process, URI url, int targets) {
            this.process = process;
            this.url = url;
            this.targets = targets;
        }

        static Prometheus start(Path binary, Path dir, List<URI> targets) throws Exception {
            Files.createDirectories(dir);
            Path config = dir.resolve("prometheus.yml");
            Files.writeString(config, "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
                    + "  - job_name: pullthrough\n    static_configs:\n      - targets: ["
                    + targets.stream().map(t -> "\"" + t.getAuthority() + "\"").collect(Collectors.joining(", ")) + "]\n");
            int port = Loopback.freePort();
            Process process = new ProcessBuilder(binary.toString(), "--config.file=" + config,
                    "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port)
                    .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
            Prometheus prometheus = new Prometheus(process, URI.create("http://127.0.0.1:" + port), targets.size());
            Await.until(prometheus::ready, Duration.ofSeconds(30), "Prometheus is ready");
            return prometheus;
        }

        private boolean ready() {
            if (!process.isAlive()) {
                throw new AssertionError("Prometheus exited: see its log");
            }
            try {
                return RegistryHttp.get(url, "/-/ready").statusCode() == 200;
            } catch (AssertionError notListeningYet) {
                return false;
            }
        }

        JsonNode query(String promql) throws IOException {
            return JSON.readTree(RegistryHttp.get(url, "/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)).body());
        }

        /** Successful scrapes so far, by target (a sample of a series every scrape carries). */
        Map<String, Double> scrapesByTarget() throws IOException {
            Map<String, Double> scrapes = new java.util.HashMap<>();
            query("count_over_time(pullthrough_downloads_in_flight[10m])").path("data").path("result").forEach(series ->
                    scrapes.put(series.get("metric").get("instance").asText(), series.get("value").get(1).asDouble()));
            return scrapes;
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            process.waitFor();
        }
    }
}
