package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.storage.s3.S3ProxyServer;
import dev.pullthrough.testing.Loopback;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 29: every counter whose labels are known at start is on {@code /metrics} from the start, at 0,
 * so that a dashboard's {@code rate()} shows 0 rather than "no data" until the first event: eviction
 * by kind, per configured upstream, and the cluster's counters when {@code cluster} is on.
 */
class SeriesFromTheStartTest {
    @TempDir
    Path temp;

    private static String metrics(ProxyUnderTest proxy) {
        String body = new String(RegistryHttp.get(proxy.url(), "/metrics").body());
        assertTrue(body.contains("pullthrough_"), body);
        return body;
    }

    @Test
    void freshProxy_evictionAndPerUpstreamSeriesAtZero() {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                + "  - name: docker.io\n    url: http://127.0.0.1:9\n    default: true\n"
                + "  - name: ghcr.io\n    url: http://127.0.0.1:9\n")) {
            String scraped = metrics(proxy);
            for (String series : List.of(
                    "pullthrough_evicted_bytes_total{kind=\"blob\"} 0.0",
                    "pullthrough_evicted_bytes_total{kind=\"manifest\"} 0.0",
                    "pullthrough_evictions_total{kind=\"blob\"} 0.0",
                    "pullthrough_evictions_total{kind=\"manifest\"} 0.0",
                    "pullthrough_upstream_pulls_saved_total{upstream=\"docker.io\"} 0.0",
                    "pullthrough_upstream_pulls_saved_total{upstream=\"ghcr.io\"} 0.0",
                    "pullthrough_cache_lookups_total{kind=\"blob\",result=\"hit\"} 0.0",
                    "pullthrough_cache_lookups_total{kind=\"manifest\",result=\"miss\"} 0.0",
                    "pullthrough_served_bytes_total{source=\"cache\"} 0.0")) {
                assertTrue(scraped.contains(series), series + " missing from:\n" + scraped);
            }
            assertTrue(!scraped.contains("pullthrough_cluster_blob_fetches"), "no cluster series without a cluster");
        }
    }

    @Test
    void freshReplica_clusterSeriesAtZero() throws Exception {
        try (S3ProxyServer s3 = S3ProxyServer.start(temp.resolve("s3proxy"));
             RedisServer redis = RedisServer.start(temp.resolve("redis"))) {
            try (S3Bucket bucket = S3Bucket.open(s3.config("series", ""))) {
                bucket.createIfMissing().join();
            }
            Path secret = temp.resolve("cluster-secret");
            Files.writeString(secret, "the-series-cluster-secret\n");
            int port = Loopback.freePort();
            String yaml = "storage:\n" + String.join("\n", s3.yaml("series")) + "\ncluster:\n  redis: " + redis.uri()
                    + "\n  advertise: http://127.0.0.1:" + port + "\n  secretFile: " + secret
                    + "\nupstreams:\n  - name: docker.io\n    url: http://127.0.0.1:9\n    default: true\n";
            try (ProxyUnderTest replica = ProxyUnderTest.start(temp.resolve("replica"), yaml, port, port)) {
                String scraped = metrics(replica);
                for (String source : List.of("lease", "peer", "alone")) {
                    String series = "pullthrough_cluster_blob_fetches_total{source=\"" + source + "\"} 0.0";
                    assertTrue(scraped.contains(series), series + " missing from:\n" + scraped);
                }
                assertTrue(scraped.contains("pullthrough_cluster_tags_shared_total 0.0"), scraped);
                // The peer requests this replica serves the others, and whether it coordinates (0: Redis answers).
                assertTrue(scraped.contains("pullthrough_requests_total{method=\"GET\",route=\"peer\",status=\"200\"} 0.0"), scraped);
                assertTrue(scraped.contains("\npullthrough_cluster_degraded "), scraped);
                assertEquals(0.0, replica.metrics().sum("pullthrough_cluster_blob_fetches"));
            }
        }
    }
}
