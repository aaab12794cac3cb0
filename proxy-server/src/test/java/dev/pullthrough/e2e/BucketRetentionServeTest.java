package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.bucket.BucketRetention;
import dev.pullthrough.bucket.RetentionPass;
import dev.pullthrough.cluster.RedisLink;
import dev.pullthrough.cluster.RedisRetention;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.storage.s3.S3ProxyServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code storage.s3.retention} in a serving proxy (issue 30): its series exist from the start at 0, a
 * blob it serves is recorded as used in Redis, and its status page shows the cluster's last pass,
 * whichever replica ran it.
 */
class BucketRetentionServeTest {
    @TempDir
    Path temp;

    @Test
    void serve_recordsUses_exportsSeriesAtZero_statusShowsTheClustersLastPass() throws Exception {
        byte[] blob = new byte[100_000];
        new Random(30).nextBytes(blob);
        Digest digest = Digest.sha256Of(blob);
        String path = "/v2/team/app/blobs/" + digest;
        Files.writeString(temp.resolve("secret"), "a-shared-secret-of-the-cluster\n");
        try (S3ProxyServer s3 = S3ProxyServer.start(temp.resolve("s3proxy"));
             RedisServer redis = RedisServer.start(temp.resolve("redis"));
             FaultyUpstream upstream = new FaultyUpstream().route("GET " + path,
                     FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()))) {
            S3Bucket bucket = S3Bucket.open(s3.config("shared", ""));
            bucket.createIfMissing().join();
            String yaml = "storage:\n" + String.join("\n", s3.yaml("shared")) + "\n    retention: 30d\n"
                    + "cluster:\n  redis: " + redis.uri() + "\n  advertise: http://127.0.0.1:1\n  secretFile: "
                    + temp.resolve("secret") + "\n"
                    + "upstreams:\n  - name: hub\n    url: " + upstream.url() + "\n    default: true\n";
            try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("data"), yaml);
                 RedisLink link = RedisLink.open(redis.uri(), Optional.empty(), up -> { })) {
                String metrics = text(RegistryHttp.get(proxy.url(), "/metrics").body());
                for (String series : List.of("pullthrough_bucket_retention_deleted_objects_total 0.0",
                        "pullthrough_bucket_retention_deleted_bytes_total 0.0", "pullthrough_bucket_retention_kept_objects 0.0",
                        "pullthrough_bucket_retention_uploads_aborted_total 0.0")) {
                    assertTrue(metrics.contains(series), series + " from the start:\n" + metrics);
                }
                assertTrue(text(RegistryHttp.get(proxy.url(), "/status.json").body()).contains("\"bucketRetention\":null"));

                assertArrayEquals(blob, RegistryHttp.get(proxy.url(), path).body());
                RedisRetention cluster = new RedisRetention(link, "another replica");
                Await.until(() -> cluster.lastUses(List.of(digest)).get(0).isPresent(), Duration.ofSeconds(30),
                        "the served blob recorded as used in Redis");
                Await.until(() -> proxy.pendingBucketWrites() == 0, Duration.ofSeconds(30), "the blob in the bucket");

                // Another replica runs the pass: the blob and its repository link were used just now, so both stay.
                RetentionPass pass = new BucketRetention(bucket, Duration.ofDays(30), cluster, cluster, Clock.systemUTC(),
                        "another replica", done -> { }).runIfDue().orElseThrow();
                assertEquals(0, pass.deletedObjects());
                assertEquals(2, pass.keptObjects(), pass.toString());
                String status = text(RegistryHttp.get(proxy.url(), "/status.json").body());
                assertTrue(status.contains("\"replica\":\"another replica\"") && status.contains("\"keptObjects\":2")
                        && status.contains("\"lastPassAt\":\"" + pass.at()), status);
            } finally {
                bucket.close();
            }
        }
    }

    private static String text(byte[] body) {
        return new String(body, StandardCharsets.UTF_8);
    }
}
