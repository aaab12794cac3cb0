package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cache survives restarts, kill -9 and upstream outages, stays within its bound, and copes with a bad disk. */
class StorageDurabilityTest {
    @TempDir
    Path temp;

    private static long filesUnder(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).count();
        }
    }

    /** {@link #bytesUnder}, looked at again when a file went away during the walk (an eviction or a commit). */
    private static long diskUse(Path dir) throws IOException {
        while (true) {
            try {
                return bytesUnder(dir);
            } catch (java.io.UncheckedIOException e) {
                // a file went away while we looked
            }
        }
    }

    private static long bytesUnder(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    // ---------------------------------------------------------------- restart

    @Test
    void restart_upstreamStopped_everyImagePullsFromCacheByteIdentical() throws Exception {
        Path data = temp.resolve("proxy");
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ReferenceRegistry destination = ReferenceRegistry.start(temp.resolve("destination"))) {
            TestImages images = new TestImages(upstream.url(), 71);
            List<Pushed> pushed = List.of(images.pushImage("keep/docker", "v1", Format.DOCKER, 2, 32 * 1024),
                    images.pushIndex("keep/index", "v1", Format.OCI, 1, 16 * 1024));
            try (ProxyUnderTest proxy = ProxyUnderTest.start(data, upstream.url())) {
                for (Pushed image : pushed) {
                    Skopeo.copyAll(proxy.hostPort() + "/" + image.repository() + ":v1", destination.hostPort() + "/first/" + image.repository() + ":v1");
                }
            }
            upstream.stop();
            try (ProxyUnderTest proxy = ProxyUnderTest.start(data, upstream.url())) {
                for (Pushed image : pushed) {
                    for (String reference : List.of(":v1", "@" + image.digest())) {
                        Skopeo.copyAll(proxy.hostPort() + "/" + image.repository() + reference,
                                destination.hostPort() + "/second/" + image.repository() + ":v1");
                        HttpResponse<byte[]> copied = RegistryHttp.manifest(destination.url(), "second/" + image.repository(), "v1");
                        assertArrayEquals(image.bytes(), copied.body());
                    }
                    for (Digest blob : image.blobs()) {
                        HttpResponse<byte[]> viaProxy = RegistryHttp.get(proxy.url(), "/v2/" + image.repository() + "/blobs/" + blob);
                        assertEquals(blob, Digest.sha256Of(viaProxy.body()), "byte-identical after the restart");
                    }
                }
                // Attempts count too (status 0: no connection): the cache answered without trying the upstream.
                assertEquals(0, (long) proxy.metrics().sum("pullthrough_upstream_requests"), "requests sent to the stopped upstream");
            }
        }
    }

    // ---------------------------------------------------------------- kill -9

    /** What kill -9 may leave: temp files of downloads in flight, which fsck removes; nothing bad indexed. */
    private void assertFsckCleanWithoutTempFiles(Path data, URI upstream) throws IOException {
        Processes.Result fsck = ProxyProcess.command(data, upstream, temp.resolve("fsck.log"), "fsck");
        assertEquals(0, fsck.exitCode(), fsck.output());
        assertTrue(fsck.output().contains("0 bad entries removed"), fsck.output());
        assertEquals(0, filesUnder(data.resolve("tmp")), "no temp file remains");
    }

    @Test
    void crash_killedDuringTenColdPulls_fsckCleanNoTempFilesAndPullsSucceed() throws Exception {
        Path data = temp.resolve("proxy");
        Random random = new Random(72);
        List<byte[]> blobs = new ArrayList<>();
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            for (int i = 0; i < 10; i++) {
                byte[] blob = new byte[8 << 20];
                random.nextBytes(blob);
                blobs.add(blob);
                upstream.route("GET /v2/crash/app/blobs/" + Digest.sha256Of(blob), FaultyUpstream.trickle(blob, 256 * 1024, 50, Long.MAX_VALUE));
            }
            int port = Loopback.freePort();
            ProxyProcess proxy = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve1.log"));
            ExecutorService clients = Executors.newFixedThreadPool(10);
            HttpClient http = HttpClient.newHttpClient();
            for (byte[] blob : blobs) {
                clients.submit(() -> {
                    HttpResponse<InputStream> response = http.send(HttpRequest.newBuilder(proxy.url().resolve(
                            "/v2/crash/app/blobs/" + Digest.sha256Of(blob))).build(), HttpResponse.BodyHandlers.ofInputStream());
                    try (InputStream in = response.body()) {
                        in.transferTo(java.io.OutputStream.nullOutputStream());
                    }
                    return null;
                });
            }
            Await.until(() -> filesUnder(data.resolve("tmp")) > 0, Duration.ofSeconds(30), "downloads in flight");
            proxy.kill();
            clients.shutdownNow();

            assertFsckCleanWithoutTempFiles(data, upstream.url());

            for (byte[] blob : blobs) {
                upstream.route("GET /v2/crash/app/blobs/" + Digest.sha256Of(blob), FaultyUpstream.trickle(blob, 1 << 20, 0, Long.MAX_VALUE));
            }
            long restartStarted = System.nanoTime();
            try (ProxyProcess restarted = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve2.log"))) {
                long restartMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - restartStarted);
                System.out.println("restart after kill -9 answered /v2/ in " + restartMillis + " ms; "
                        + Files.readAllLines(temp.resolve("serve2.log")).stream().filter(l -> l.contains("storage reconciled")).findFirst().orElse(""));
                for (byte[] blob : blobs) {
                    HttpResponse<byte[]> response = RegistryHttp.get(restarted.url(), "/v2/crash/app/blobs/" + Digest.sha256Of(blob));
                    assertEquals(200, response.statusCode());
                    assertArrayEquals(blob, response.body());
                }
            }
        }
    }

    @Test
    void crash_killedDuringStreamOfSmallColdBlobs_fsckCleanAndEveryBlobReceivedWholeServedWithItsBytes() throws Exception {
        Path data = temp.resolve("proxy");
        Random random = new Random(74);
        List<byte[]> blobs = new ArrayList<>();
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            for (int i = 0; i < 2_000; i++) {
                byte[] blob = new byte[1024 + random.nextInt(3 * 1024)];
                random.nextBytes(blob);
                blobs.add(blob);
                upstream.route("GET /v2/crash/small/blobs/" + Digest.sha256Of(blob), FaultyUpstream.trickle(blob, 1 << 20, 0, Long.MAX_VALUE));
                // As a real registry does: a blob committed but not yet linked when the kill came is
                // confirmed for its repository with a HEAD after the restart (small blobs are linked with
                // their index entry, after the rename).
                upstream.route("HEAD /v2/crash/small/blobs/" + Digest.sha256Of(blob), FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
            }
            ProxyProcess proxy = ProxyProcess.serve(data, upstream.url(), Loopback.freePort(), temp.resolve("serve1.log"));
            Set<Integer> receivedWhole = ConcurrentHashMap.newKeySet();
            CountDownLatch enough = new CountDownLatch(300);
            AtomicInteger next = new AtomicInteger();
            ExecutorService clients = Executors.newFixedThreadPool(4);
            HttpClient http = HttpClient.newHttpClient();
            for (int c = 0; c < 4; c++) {
                clients.submit(() -> {
                    for (int i = next.getAndIncrement(); i < blobs.size(); i = next.getAndIncrement()) {
                        HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(proxy.url().resolve(
                                "/v2/crash/small/blobs/" + Digest.sha256Of(blobs.get(i)))).build(), HttpResponse.BodyHandlers.ofByteArray());
                        if (response.statusCode() == 200 && java.util.Arrays.equals(blobs.get(i), response.body())) {
                            receivedWhole.add(i);
                            enough.countDown();
                        }
                    }
                    return null;
                });
            }
            assertTrue(enough.await(60, TimeUnit.SECONDS), "300 blobs received");
            proxy.kill(); // mid-stream: the clients are still asking
            int received = receivedWhole.size();
            clients.shutdownNow();
            assertTrue(received >= 300 && next.get() < blobs.size(), "killed during the stream, after " + received + " blobs");

            assertFsckCleanWithoutTempFiles(data, upstream.url());

            int fetchedBefore = 0;
            for (byte[] blob : blobs) {
                fetchedBefore += upstream.count("GET /v2/crash/small/blobs/" + Digest.sha256Of(blob));
            }
            try (ProxyProcess restarted = ProxyProcess.serve(data, upstream.url(), Loopback.freePort(), temp.resolve("serve2.log"))) {
                int fromCache = 0;
                for (int i : receivedWhole) {
                    String path = "/v2/crash/small/blobs/" + Digest.sha256Of(blobs.get(i));
                    int upstreamBefore = upstream.count("GET " + path);
                    HttpResponse<byte[]> response = RegistryHttp.get(restarted.url(), path);
                    assertEquals(200, response.statusCode());
                    assertArrayEquals(blobs.get(i), response.body(), "blob " + i + " after the restart");
                    fromCache += upstream.count("GET " + path) == upstreamBefore ? 1 : 0;
                }
                System.out.println("kill -9 after " + receivedWhole.size() + " small blobs received whole (" + fetchedBefore
                        + " fetched upstream): " + fromCache + " served from the cache after the restart");
                // A client gets the last byte once the digest is verified, before the fsync and rename:
                // only downloads still holding one of the 32 download slots can have been lost.
                assertTrue(fromCache >= receivedWhole.size() - 32, fromCache + " of " + receivedWhole.size() + " from the cache");
            }
        }
    }

    // ---------------------------------------------------------------- the size bound

    @Test
    void eviction_boundSmallerThanPulls_staysUnderBoundEvictsLeastRecentlyUsedAndRefetches() throws Exception {
        Path data = temp.resolve("proxy");
        // Each cold blob is held half sent until the test looks at the disk: the moment a bound that
        // is enforced only after the commit would be overshot is then under the test's control, not
        // caught (or missed) by a sampler (issue 29).
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(data, "upstreams:\n  - name: docker.io\n    url: " + upstream.url()
                     + "\nstorage:\n  maxSize: 3MiB\n")) {
            java.util.Random random = new java.util.Random(73);
            List<Digest> blobs = new ArrayList<>();
            List<java.util.concurrent.CountDownLatch> releases = new ArrayList<>();
            int half = 1 << 19;
            for (int i = 0; i < 5; i++) {
                byte[] body = new byte[1 << 20];
                random.nextBytes(body);
                blobs.add(Digest.sha256Of(body));
                releases.add(new java.util.concurrent.CountDownLatch(1));
                upstream.route("GET /v2/evict/app/blobs/" + blobs.get(i), FaultyUpstream.held(body, half, releases.get(i)));
            }
            long bound = 3L << 20;
            int[] pulls = {0, 1, 2, 0, 3, 4};
            // Evictions once each pull is done: the fourth and fifth cold blobs each make room for themselves.
            long[] evictionsAfter = {0, 0, 0, 0, 1, 2};
            boolean[] seen = new boolean[5];
            for (int step = 0; step < pulls.length; step++) {
                int i = pulls[step];
                CompletableFuture<HttpResponse<byte[]>> pull = CompletableFuture.supplyAsync(
                        () -> RegistryHttp.get(proxy.url(), "/v2/evict/app/blobs/" + blobs.get(i)));
                if (!seen[i]) {
                    seen[i] = true;
                    Await.until(() -> diskUse(data.resolve("tmp")) >= half, Duration.ofSeconds(60),
                            "half of blob " + i + " written to a temp file");
                    long midway = diskUse(data.resolve("blobs")) + diskUse(data.resolve("tmp"));
                    assertTrue(midway <= bound, "while blob " + i + " downloads, disk use " + midway + " is within the bound " + bound);
                    releases.get(i).countDown();
                }
                assertEquals(blobs.get(i), Digest.sha256Of(pull.get(60, TimeUnit.SECONDS).body()));
                long expected = evictionsAfter[step];
                Await.until(() -> proxy.metrics().sum("pullthrough_evictions", "kind", "blob") >= expected,
                        Duration.ofSeconds(60), expected + " evictions after pull " + step);
                long after = diskUse(data.resolve("blobs")) + diskUse(data.resolve("tmp"));
                assertTrue(after <= bound, "after pull " + step + ", disk use " + after + " is within the bound " + bound);
            }
            assertEquals(2, (long) proxy.metrics().sum("pullthrough_evictions", "kind", "blob"));
            for (int kept : new int[] {0, 3, 4}) {
                // The client of blob 4 had its last byte once the digest was verified, before the
                // rename that commits it: awaited, not sampled (a loaded machine widens that window).
                Path file = blobPath(data, blobs.get(kept));
                Await.until(() -> Files.exists(file), Duration.ofSeconds(30), "recently used blob " + kept + " kept");
            }
            for (int evicted : new int[] {1, 2}) {
                assertFalse(Files.exists(blobPath(data, blobs.get(evicted))), "least recently used blob " + evicted + " evicted");
            }
            HttpResponse<byte[]> again = RegistryHttp.get(proxy.url(), "/v2/evict/app/blobs/" + blobs.get(1));
            assertEquals(blobs.get(1), Digest.sha256Of(again.body()), "an evicted blob is fetched again transparently");
            assertEquals(2, upstream.count("GET /v2/evict/app/blobs/" + blobs.get(1)));
        }
    }

    private static Path blobPath(Path data, Digest digest) {
        return data.resolve("blobs").resolve(digest.algorithm()).resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
    }

    // ---------------------------------------------------------------- offline

    @Test
    void offline_servesCachedNeverContactsUpstream() throws Exception {
        Path data = temp.resolve("proxy");
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            byte[] blob = new byte[100_000];
            new Random(74).nextBytes(blob);
            Digest digest = Digest.sha256Of(blob);
            upstream.route("GET /v2/air/app/blobs/" + digest, FaultyUpstream.fixed(200, "application/octet-stream", blob, java.util.Map.of()));
            try (ProxyUnderTest proxy = ProxyUnderTest.start(data, "upstreams:\n  - name: u\n    url: " + upstream.url() + "\n")) {
                assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/air/app/blobs/" + digest).statusCode());
            }
            try (ProxyUnderTest proxy = ProxyUnderTest.start(data, "offline: true\nupstreams:\n  - name: u\n    url: " + upstream.url() + "\n")) {
                HttpResponse<byte[]> cached = RegistryHttp.get(proxy.url(), "/v2/air/app/blobs/" + digest);
                assertArrayEquals(blob, cached.body());
                HttpResponse<byte[]> missing = RegistryHttp.get(proxy.url(), "/v2/air/app/blobs/sha256:" + "1".repeat(64));
                assertEquals(404, missing.statusCode());
                assertEquals(404, RegistryHttp.manifest(proxy.url(), "air/app", "latest").statusCode());
                assertEquals(0, (long) proxy.metrics().sum("pullthrough_upstream_requests"), "offline: no upstream request at all");
            }
            assertEquals(1, upstream.count("GET /v2/air/app/blobs/" + digest));
        }
    }

    // ---------------------------------------------------------------- a disk that cannot take the blob

    @Test
    void unwritableStorage_pullPassesThroughVerifiedNothingKeptCountedOnce() throws Exception {
        Path data = temp.resolve("proxy");
        byte[] blob = new byte[3 << 20];
        new Random(75).nextBytes(blob);
        Digest digest = Digest.sha256Of(blob);
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(data, "upstreams:\n  - name: u\n    url: " + upstream.url() + "\n")) {
            upstream.route("GET /v2/full/app/blobs/" + digest, FaultyUpstream.trickle(blob, 256 * 1024, 0, Long.MAX_VALUE));
            // Root ignores permissions, so make the temp directory impossible instead: a file in its place.
            Files.delete(data.resolve("tmp"));
            Files.writeString(data.resolve("tmp"), "not a directory");

            for (int attempt = 1; attempt <= 2; attempt++) {
                HttpResponse<byte[]> response = RegistryHttp.get(proxy.url(), "/v2/full/app/blobs/" + digest);
                assertEquals(200, response.statusCode());
                assertArrayEquals(blob, response.body());
                assertEquals(attempt, (long) proxy.metrics().sum("pullthrough_storage_write_failures"), "counted once per pull");
            }
            assertEquals(0, filesUnder(data.resolve("blobs")), "nothing was kept");
        }
    }
}
