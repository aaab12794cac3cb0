package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.s3.BucketFsck;
import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.storage.s3.S3ProxyServer;
import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three replicas (processes, each with its own data directory) on one bucket (the real S3Proxy),
 * coordinating through the real redis-server: each blob is fetched from the upstream once for the
 * cluster, the others stream it from the replica fetching it; its death, and Redis's, cost at most
 * one more fetch and never a wrong byte.
 */
class ClusterTest {
    private static final String SECRET = "a-shared-secret-of-the-cluster";

    @TempDir
    Path temp;
    private S3ProxyServer s3;
    private S3Bucket bucket;
    private RedisServer redis;
    private final List<ProxyProcess> replicas = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        s3 = S3ProxyServer.start(temp.resolve("s3proxy"));
        bucket = S3Bucket.open(s3.config("shared", ""));
        bucket.createIfMissing().join();
        redis = RedisServer.start(temp.resolve("redis"));
        Files.writeString(temp.resolve("secret"), SECRET + "\n");
    }

    @AfterEach
    void stop() throws Exception {
        for (ProxyProcess replica : replicas) {
            replica.close();
        }
        bucket.close();
        s3.close();
        redis.close();
    }

    private ProxyProcess replica(String name, URI upstream) {
        int port = Loopback.freePort();
        Map<String, String> env = new HashMap<>(Map.of("PULLTHROUGH_STORAGE_S3_BUCKET", "shared",
                "PULLTHROUGH_STORAGE_S3_ENDPOINT", s3.endpoint().toString(), "PULLTHROUGH_STORAGE_S3_PATHSTYLE", "true",
                "PULLTHROUGH_STORAGE_S3_ACCESSKEY", S3ProxyServer.ACCESS_KEY, "PULLTHROUGH_STORAGE_S3_SECRETKEY",
                S3ProxyServer.SECRET_KEY));
        env.put("PULLTHROUGH_CLUSTER_REDIS", redis.uri().toString());
        env.put("PULLTHROUGH_CLUSTER_ADVERTISE", "http://127.0.0.1:" + port);
        env.put("PULLTHROUGH_CLUSTER_SECRETFILE", temp.resolve("secret").toString());
        ProxyProcess replica = ProxyProcess.serve(temp.resolve(name), upstream, port, temp.resolve(name + ".log"), env);
        replicas.add(replica);
        return replica;
    }

    private static byte[] random(int size, long seed) {
        byte[] blob = new byte[size];
        new Random(seed).nextBytes(blob);
        return blob;
    }

    @Test
    void thirtyClientsOverThreeReplicas_oneColdBlob_theUpstreamServesItOnce() throws Exception {
        byte[] blob = random(24 << 20, 1);
        Digest digest = Digest.sha256Of(blob);
        String path = "/v2/team/big/blobs/" + digest;
        byte[] small = random(64 * 1024, 11);
        String warmUp = "/v2/team/small/blobs/" + Digest.sha256Of(small);
        // Held after its first MiB until both other replicas stream it from the one fetching it: every
        // client arrives while it downloads however slow the machine (issue 29).
        CountDownLatch release = new CountDownLatch(1);
        try (FaultyUpstream upstream = new FaultyUpstream()
                .route("GET " + path, FaultyUpstream.held(blob, 1 << 20, release))
                .route("GET " + warmUp, FaultyUpstream.trickle(small, 16 * 1024, 10, Long.MAX_VALUE))) {
            List<ProxyProcess> three = List.of(replica("a", upstream.url()), replica("b", upstream.url()),
                    replica("c", upstream.url()));
            // Each replica's first blob loads its classes (bucket client, Redis, peer client): not what is measured.
            for (ProxyProcess replica : three) {
                assertEquals(Digest.sha256Of(small), fetch(replica.url().resolve(warmUp)).digest());
            }
            assertEquals(1, upstream.count("GET " + warmUp));
            // Figures from here on: the warm-up's depend on whether it ran within one lease.
            long fetchedBefore = clusterSum(three, "blobsFetched");
            long fromPeersBefore = clusterSum(three, "blobsFromPeers");
            long aloneBefore = clusterSum(three, "blobsAlone");
            ExecutorService clients = Executors.newFixedThreadPool(30);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Fetched>> fetched = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                ProxyProcess via = three.get(i % 3);
                fetched.add(clients.submit(() -> {
                    go.await();
                    return fetch(via.url().resolve(path));
                }));
            }
            go.countDown();
            Await.until(() -> clusterSum(three, "blobsFromPeers") - fromPeersBefore >= 2, Duration.ofSeconds(60),
                    "two replicas streaming the blob from the third");
            release.countDown();
            List<Long> firstBytes = new ArrayList<>();
            for (Future<Fetched> each : fetched) {
                Fetched result = answered(each, "one of 30 clients of the cold blob");
                assertEquals(200, result.status());
                assertEquals(digest, result.digest(), "every client gets the blob's bytes");
                assertEquals(blob.length, result.length());
                firstBytes.add(result.firstByteMillis());
            }
            clients.shutdown();
            assertEquals(1, upstream.count("GET " + path), "the upstream served the blob once to the cluster");
            // Per blob, one replica fetched it for the cluster and the two others streamed it from that one.
            assertEquals(List.of(1L, 2L, 0L), List.of(clusterSum(three, "blobsFetched") - fetchedBefore,
                    clusterSum(three, "blobsFromPeers") - fromPeersBefore, clusterSum(three, "blobsAlone") - aloneBefore),
                    "status.json's cluster figures over the three replicas, for the cold blob");
            firstBytes.sort(Long::compare);
            System.out.println("30 clients over 3 replicas, one cold 24 MiB blob: first byte after " + firstBytes
                    + " ms (median " + firstBytes.get(15) + " ms)");
            Await.until(() -> bucket.size(bucket.key(S3Bucket.Kind.BLOBS, digest)).join().isPresent(), Duration.ofSeconds(30),
                    "the blob reached the bucket");
            assertTrue(BucketFsck.check(bucket).clean());
        }
    }

    @Test
    void downloadingReplicaKilled_othersCompleteOrFailVisibly_aRetryFetchesOnceMore_nothingWrongCommitted() throws Exception {
        byte[] blob = random(24 << 20, 2);
        Digest digest = Digest.sha256Of(blob);
        String path = "/v2/team/big/blobs/" + digest;
        // 256 KiB every 25 ms: about 2.4 s.
        try (FaultyUpstream upstream = new FaultyUpstream().route("GET " + path, FaultyUpstream.trickle(blob, 256 * 1024, 25,
                Long.MAX_VALUE))) {
            ProxyProcess a = replica("a", upstream.url());
            ProxyProcess b = replica("b", upstream.url());
            ProxyProcess c = replica("c", upstream.url());
            AtomicLong onA = new AtomicLong();
            ExecutorService clients = Executors.newFixedThreadPool(4);
            Future<Fetched> first = clients.submit(() -> fetch(a.url().resolve(path), onA));
            Await.until(() -> onA.get() > (4 << 20), Duration.ofSeconds(30), "A downloads");
            AtomicLong onB = new AtomicLong();
            AtomicLong onC = new AtomicLong();
            Future<Fetched> viaB = clients.submit(() -> fetch(b.url().resolve(path), onB));
            Future<Fetched> viaC = clients.submit(() -> fetch(c.url().resolve(path), onC));
            Await.until(() -> onB.get() > (1 << 20) && onC.get() > (1 << 20), Duration.ofSeconds(30),
                    "B and C stream from A");
            a.kill();

            for (Map.Entry<String, Future<Fetched>> client : List.of(Map.entry("A", first), Map.entry("B", viaB), Map.entry("C", viaC))) {
                Fetched result = answered(client.getValue(), "the client of replica " + client.getKey() + " after A's kill");
                assertTrue(result.failed() || result.digest().equals(digest) && result.length() == blob.length,
                        "complete and right, or failed visibly: " + result);
            }
            assertEquals(1, upstream.count("GET " + path));

            // Retried: B takes A's lease over once it expired and fetches once more; C streams from B (or the bucket).
            Future<Fetched> againB = clients.submit(() -> fetch(b.url().resolve(path)));
            Future<Fetched> againC = clients.submit(() -> fetch(c.url().resolve(path)));
            for (Future<Fetched> each : List.of(againB, againC)) {
                Fetched result = answered(each, "a retry after A's kill");
                assertEquals(200, result.status());
                assertEquals(digest, result.digest());
            }
            clients.shutdown();
            assertEquals(2, upstream.count("GET " + path), "one more upstream fetch for the retries");
            Await.until(() -> bucket.size(bucket.key(S3Bucket.Kind.BLOBS, digest)).join().isPresent(), Duration.ofSeconds(30),
                    "the blob reached the bucket");
            assertTrue(BucketFsck.check(bucket).clean(), "nothing wrong in the bucket");
        }
    }

    @Test
    void redisStoppedMidRun_pullsGoOnAlone_restarted_theNextColdBlobIsFetchedOnce() throws Exception {
        byte[] first = random(2 << 20, 3);
        byte[] second = random(2 << 20, 4);
        String firstPath = "/v2/team/app/blobs/" + Digest.sha256Of(first);
        String secondPath = "/v2/team/app/blobs/" + Digest.sha256Of(second);
        CountDownLatch releaseSecond = new CountDownLatch(1);
        try (FaultyUpstream upstream = new FaultyUpstream()
                .route("GET " + firstPath, FaultyUpstream.trickle(first, 256 * 1024, 20, Long.MAX_VALUE))
                .route("GET " + secondPath, FaultyUpstream.held(second, 256 * 1024, releaseSecond))) {
            List<ProxyProcess> three = List.of(replica("a", upstream.url()), replica("b", upstream.url()),
                    replica("c", upstream.url()));
            redis.stop();
            for (ProxyProcess replica : three) {
                Await.until(() -> readyz(replica).contains("cluster degraded"), Duration.ofSeconds(20),
                        "the replica says it is degraded");
                assertEquals(200, RegistryHttp.get(replica.url(), "/readyz").statusCode(), "and stays ready");
                assertTrue(status(replica).path("cluster").path("degraded").asText().contains("Redis unreachable"));
                assertTrue(new String(RegistryHttp.get(replica.url(), "/metrics").body()).contains("pullthrough_cluster_degraded 1.0"));
            }
            for (ProxyProcess replica : three) {
                HttpResponse<byte[]> served = RegistryHttp.get(replica.url(), firstPath);
                assertEquals(200, served.statusCode());
                assertArrayEquals(first, served.body());
            }
            // Alone: each replica fetched it without a lease (from the bucket when another had put it
            // there, else from the upstream), none streamed it from another (issue 29: was ">= 1").
            assertEquals(List.of(0L, 0L, 3L), List.of(clusterSum(three, "blobsFetched"), clusterSum(three, "blobsFromPeers"),
                    clusterSum(three, "blobsAlone")), "with Redis down, each replica fetched alone");

            redis.start();
            for (ProxyProcess replica : three) {
                Await.until(() -> readyz(replica).equals("ready\n"), Duration.ofSeconds(20), "the replica rejoins");
                assertTrue(status(replica).path("cluster").path("degraded").isNull());
            }
            ExecutorService clients = Executors.newFixedThreadPool(3);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Fetched>> fetched = new ArrayList<>();
            for (ProxyProcess replica : three) {
                fetched.add(clients.submit(() -> {
                    go.await();
                    return fetch(replica.url().resolve(secondPath));
                }));
            }
            // Held until the two others stream it from the one fetching it: the three requests overlap,
            // so the bucket (read first) cannot explain a single fetch (issue 29).
            long fromPeersBefore = clusterSum(three, "blobsFromPeers");
            go.countDown();
            Await.until(() -> clusterSum(three, "blobsFromPeers") - fromPeersBefore >= 2, Duration.ofSeconds(60),
                    "two replicas streaming the blob from the third, rejoined");
            releaseSecond.countDown();
            for (Future<Fetched> each : fetched) {
                assertEquals(Digest.sha256Of(second), answered(each, "a client of the rejoined cluster").digest());
            }
            clients.shutdown();
            assertEquals(1, upstream.count("GET " + secondPath), "rejoined: the next cold blob is fetched once");
        }
    }

    @Test
    void oneTagAskedOfTheThreeReplicasAtOnce_oneGetByTag_everyAcceptSetServed() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"))) {
            TestImages.Pushed image = new TestImages(upstream.url(), 181).pushIndex("team/rollout", "v1",
                    TestImages.Format.OCI, 1, 4 * 1024);
            List<ProxyProcess> three = List.of(replica("a", upstream.url()), replica("b", upstream.url()),
                    replica("c", upstream.url()));
            // A rollout: every node asks at once, each with its own Accept set, each at another replica.
            ExecutorService clients = Executors.newFixedThreadPool(9);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<HttpResponse<byte[]>>> answers = new ArrayList<>();
            for (int i = 0; i < 9; i++) {
                ProxyProcess via = three.get(i % 3);
                String accept = i % 2 == 0 ? String.join(", ", RegistryHttp.ALL_MANIFEST_TYPES)
                        : "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";
                answers.add(clients.submit(() -> {
                    go.await();
                    return RegistryHttp.get(via.url(), "/v2/team/rollout/manifests/v1", "Accept", accept);
                }));
            }
            go.countDown();
            for (Future<HttpResponse<byte[]>> answer : answers) {
                HttpResponse<byte[]> response = answer.get();
                assertEquals(200, response.statusCode(), new String(response.body()));
                assertArrayEquals(image.bytes(), response.body());
                assertEquals(image.digest().toString(), response.headers().firstValue("Docker-Content-Digest").orElseThrow());
            }
            clients.shutdown();
            assertEquals(1, upstream.requests("GET", "/v2/team/rollout/manifests/v1"), "one GET by tag for the cluster");
        }
    }

    @Test
    void peerRequest_withoutTheSecret_401_withIt_served() throws Exception {
        byte[] blob = random(64 * 1024, 5);
        Digest digest = Digest.sha256Of(blob);
        String path = "/v2/team/app/blobs/" + digest;
        try (FaultyUpstream upstream = new FaultyUpstream().route("GET " + path, FaultyUpstream.trickle(blob, 64 * 1024, 0,
                Long.MAX_VALUE))) {
            ProxyProcess a = replica("a", upstream.url());
            assertEquals(200, RegistryHttp.get(a.url(), path).statusCode());
            String peerPath = "/cluster/blobs/docker.io/team/app/" + digest;
            HttpResponse<byte[]> without = RegistryHttp.get(a.url(), peerPath);
            assertEquals(401, without.statusCode());
            assertTrue(new String(without.body()).contains("\"UNAUTHORIZED\""), new String(without.body()));
            assertEquals(401, RegistryHttp.get(a.url(), peerPath, "Authorization", "Bearer not-the-secret").statusCode());
            HttpResponse<byte[]> with = RegistryHttp.get(a.url(), peerPath, "Authorization", "Bearer " + SECRET);
            assertEquals(200, with.statusCode());
            assertArrayEquals(blob, with.body());
            assertEquals(404, RegistryHttp.get(a.url(), "/cluster/blobs/docker.io/team/other/" + digest,
                    "Authorization", "Bearer " + SECRET).statusCode(), "not served for a repository it was not fetched for");
        }
    }

    private static JsonNode status(ProxyProcess replica) throws IOException {
        return new ObjectMapper().readTree(RegistryHttp.get(replica.url(), "/status.json").body());
    }

    private static long clusterSum(List<ProxyProcess> replicas, String figure) throws IOException {
        long sum = 0;
        for (ProxyProcess replica : replicas) {
            sum += status(replica).path("cluster").path(figure).asLong();
        }
        return sum;
    }

    private static String readyz(ProxyProcess replica) {
        return new String(RegistryHttp.get(replica.url(), "/readyz").body());
    }

    /**
     * A client's result, within a minute: each blob here arrives within a few seconds once released,
     * so a client still waiting after a minute was left hanging (the server's idle timeout would end it after 300 s, and the
     * test would pass as "failed visibly"). The replicas' logs say why.
     */
    private Fetched answered(Future<Fetched> client, String who) throws Exception {
        try {
            return client.get(60, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            client.cancel(true);
            StringBuilder logs = new StringBuilder();
            for (String name : List.of("a", "b", "c")) {
                Path log = temp.resolve(name + ".log");
                if (Files.exists(log)) {
                    logs.append("\n---- replica ").append(name).append('\n').append(Files.readString(log));
                }
            }
            throw new AssertionError(who + " got no answer within 60 s" + logs);
        }
    }

    /** What one client got: status, bytes and digest of what it read, when the first byte came, whether it was cut. */
    record Fetched(int status, long length, Digest digest, long firstByteMillis, boolean failed) {}

    private static Fetched fetch(URI uri) {
        return fetch(uri, new AtomicLong());
    }

    private static Fetched fetch(URI uri, AtomicLong progress) {
        long started = System.nanoTime();
        long firstByte = -1;
        long length = 0;
        int status = -1;
        try {
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            HttpResponse<InputStream> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(uri).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            status = response.statusCode();
            try (InputStream body = response.body()) {
                byte[] buffer = new byte[64 * 1024];
                for (int n; (n = body.read(buffer)) > 0; ) {
                    if (firstByte < 0) {
                        firstByte = (System.nanoTime() - started) / 1_000_000;
                    }
                    sha256.update(buffer, 0, n);
                    length += n;
                    progress.addAndGet(n);
                }
            }
            return new Fetched(status, length, Digest.parse("sha256:" + java.util.HexFormat.of().formatHex(sha256.digest())),
                    firstByte, false);
        } catch (IOException e) {
            return new Fetched(status, length, null, firstByte, true);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
