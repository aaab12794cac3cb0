package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26 against our hostile upstream: an index listing its child twice, nested 40 levels (2^40
 * paths in a few KB), costs one fetch per distinct digest through {@code POST /prefetch} and the
 * {@code prefetch} command, both started with the project's {@code jvm.options}, and the proxy is
 * idle right after; an unreachable upstream does not serve what another upstream cached; a purge by
 * digest under another repository leaves the blob of {@code redir/same} alone.
 */
class HostileGraphAndLinksTest {
    private static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    private static final int LEVELS = 40;

    @TempDir
    Path temp;

    /** A doubling chain served by {@code upstream} under {@code team/app}: tag {@code top}, 41 manifests, 2 blobs. */
    record Graph(Digest top, List<Digest> manifests, List<Digest> blobs) {}

    static Graph doublingChain(FaultyUpstream upstream) {
        byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}".getBytes(StandardCharsets.UTF_8);
        byte[] layer = new byte[4096];
        new Random(26).nextBytes(layer);
        List<Digest> blobs = List.of(Digest.sha256Of(config), Digest.sha256Of(layer));
        upstream.route("GET /v2/team/app/blobs/" + blobs.get(0), FaultyUpstream.fixed(200, "application/octet-stream", config, Map.of()));
        upstream.route("GET /v2/team/app/blobs/" + blobs.get(1), FaultyUpstream.fixed(200, "application/octet-stream", layer, Map.of()));
        String json = "{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + blobs.get(0) + "\",\"size\":" + config.length
                + "},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" + blobs.get(1)
                + "\",\"size\":" + layer.length + "}]}";
        String type = OCI_MANIFEST;
        List<Digest> manifests = new ArrayList<>();
        Digest top = null;
        for (int level = 0; level <= LEVELS; level++) {
            byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
            top = Digest.sha256Of(bytes);
            manifests.add(top);
            upstream.route("GET /v2/team/app/manifests/" + top, FaultyUpstream.fixed(200, type, bytes,
                    Map.of("Docker-Content-Digest", top.toString())));
            if (level == LEVELS) {
                upstream.route("GET /v2/team/app/manifests/top", FaultyUpstream.fixed(200, type, bytes,
                        Map.of("Docker-Content-Digest", top.toString())));
            }
            String child = "{\"mediaType\":\"" + type + "\",\"digest\":\"" + top + "\",\"size\":" + bytes.length + "}";
            json = "{\"schemaVersion\":2,\"mediaType\":\"" + OCI_INDEX + "\",\"manifests\":[" + child + "," + child + "]}";
            type = OCI_INDEX;
        }
        return new Graph(top, manifests, blobs);
    }

    /** Each distinct digest fetched at most once (the top by its tag), and every one of them fetched. */
    static void assertEachDigestFetchedOnce(FaultyUpstream upstream, Graph graph) {
        int manifestGets = upstream.count("GET /v2/team/app/manifests/top");
        for (Digest manifest : graph.manifests()) {
            manifestGets += upstream.count("GET /v2/team/app/manifests/" + manifest);
        }
        assertEquals(LEVELS + 1, manifestGets, "one GET per distinct manifest, for 2^" + LEVELS + " paths");
        for (Digest blob : graph.blobs()) {
            assertEquals(1, upstream.count("GET /v2/team/app/blobs/" + blob), "blob " + blob);
        }
    }

    /** The process's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat). */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }

    // ---------------------------------------------------------------- hole 5: a graph, not paths

    @Test
    void postPrefetch_childTwiceNested40Levels_oneGetPerDigest_thenIdle() throws Exception {
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            Graph graph = doublingChain(upstream);
            int port = Loopback.freePort();
            try (ProxyProcess proxy = ProxyProcess.serveLikeReadme(temp.resolve("data"), "upstreams:\n  - name: hostile\n"
                    + "    url: " + upstream.url() + "\n    default: true\n", port, temp.resolve("serve.log"))) {
                HttpResponse<String> answer = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                                URI.create(proxy.url() + "/prefetch?image=team/app:top")).timeout(Duration.ofSeconds(60))
                        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());

                assertEquals(200, answer.statusCode(), answer.body());
                assertTrue(answer.body().contains("\"manifests\":" + (LEVELS + 1) + ",\"blobs\":2"), answer.body());
                assertEachDigestFetchedOnce(upstream, graph);

                // Idle within a second of the answer: over the two seconds after it, the process uses
                // almost no CPU (a walk of the paths kept both cores busy long after the client left).
                Thread.sleep(1000);
                long before = cpuTicks(proxy.pid());
                Thread.sleep(2000);
                long used = cpuTicks(proxy.pid()) - before;
                assertTrue(used < 40, "CPU ticks used in the 2 s after the answer: " + used);
                assertTrue(proxy.isAlive());

                HttpResponse<byte[]> pulled = RegistryHttp.manifest(proxy.url(), "team/app", graph.top().toString());
                assertEquals(200, pulled.statusCode(), "served from the cache");
                assertEquals(0, upstream.count("GET /v2/team/app/manifests/" + graph.top()));
            }
        }
    }

    @Test
    void prefetchCommand_childTwiceNested40Levels_oneGetPerDigest() throws Exception {
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            Graph graph = doublingChain(upstream);

            Processes.Result result = ProxyProcess.commandLikeReadme(temp.resolve("data"), "upstreams:\n  - name: hostile\n"
                    + "    url: " + upstream.url() + "\n    default: true\n", temp.resolve("prefetch.log"), "prefetch", "team/app:top");

            assertEquals(0, result.exitCode(), result.output());
            assertTrue(result.output().contains("(" + graph.top() + "): " + (LEVELS + 1) + " manifests, 2 blobs"), result.output());
            assertEachDigestFetchedOnce(upstream, graph);
        }
    }

    @Test
    void prefetchCommand_upstreamRefuses_saysWhatItAnsweredNotAJavaObject() throws Exception {
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            Processes.Result result = ProxyProcess.commandLikeReadme(temp.resolve("data"), "upstreams:\n  - name: hostile\n"
                    + "    url: " + upstream.url() + "\n    default: true\n", temp.resolve("prefetch.log"), "prefetch", "team/app:gone");

            assertEquals(1, result.exitCode(), result.output());
            assertTrue(result.output().contains("prefetching team/app:gone failed: upstream hostile did not give manifest gone"),
                    result.output());
            assertTrue(result.output().contains("it answered 404: {\"errors\":[{\"code\":\"NOT_FOUND\"}]}"), result.output());
            assertFalse(result.output().contains("[B@") || result.output().contains("OwnError["), result.output());
        }
    }

    @Test
    void postPrefetch_clientHangsUp_walkStopsAskingUpstream() throws Exception {
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: hostile\n    url: "
                     + upstream.url() + "\n    default: true\n")) {
            // 300 distinct platforms (within the limit), each answered after 200 ms: a minute of work at four at a time.
            StringBuilder children = new StringBuilder();
            for (int i = 0; i < 300; i++) {
                byte[] bytes = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                        + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + Digest.sha256Of(new byte[] {(byte) i})
                        + "\",\"size\":1},\"layers\":[]}").getBytes(StandardCharsets.UTF_8);
                Digest digest = Digest.sha256Of(bytes);
                FaultyUpstream.Answer slow = FaultyUpstream.fixed(200, OCI_MANIFEST, bytes, Map.of("Docker-Content-Digest", digest.toString()));
                upstream.route("GET /v2/team/wide/manifests/" + digest, exchange -> {
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    slow.answer(exchange);
                });
                children.append(i == 0 ? "" : ",").append("{\"mediaType\":\"").append(OCI_MANIFEST).append("\",\"digest\":\"")
                        .append(digest).append("\",\"size\":").append(bytes.length).append('}');
            }
            byte[] index = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_INDEX + "\",\"manifests\":[" + children + "]}")
                    .getBytes(StandardCharsets.UTF_8);
            upstream.route("GET /v2/team/wide/manifests/v1", FaultyUpstream.fixed(200, OCI_INDEX, index,
                    Map.of("Docker-Content-Digest", Digest.sha256Of(index).toString())));

            try {
                HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(proxy.url() + "/prefetch?image=team/wide:v1"))
                        .timeout(Duration.ofSeconds(2)).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
                throw new AssertionError("a minute of work answered within 2 s");
            } catch (java.net.http.HttpTimeoutException expected) {
                // the client gave up and closed its connection
            }

            // Stopped: no new request for a second (each takes 200 ms, four run at a time while it works).
            int[] last = {-1};
            long[] changedAt = {System.nanoTime()};
            Await.until(() -> {
                int now = wideGets(upstream, index);
                if (now != last[0]) {
                    last[0] = now;
                    changedAt[0] = System.nanoTime();
                    return false;
                }
                return System.nanoTime() - changedAt[0] > Duration.ofSeconds(1).toNanos();
            }, Duration.ofSeconds(10), "the prefetch stopped asking the upstream");
            assertTrue(last[0] < 100, "stopped soon after the client left, not after all 300: " + last[0]);
        }
    }

    /** GETs of the platform manifests of the wide index so far. */
    private static int wideGets(FaultyUpstream upstream, byte[] index) {
        int gets = 0;
        String json = new String(index, StandardCharsets.UTF_8);
        for (int at = json.indexOf("sha256:"); at >= 0; at = json.indexOf("sha256:", at + 1)) {
            String digest = json.substring(at, at + 71);
            gets += upstream.count("GET /v2/team/wide/manifests/" + digest);
        }
        return gets;
    }

    // ---------------------------------------------------------------- hole 10: checks across upstreams

    @Test
    void unreachableUpstream_digestsCachedFromAnother_notServed_ownRepositoryUntouched() throws Exception {
        byte[] blob = new byte[64 * 1024];
        new Random(10).nextBytes(blob);
        Digest blobDigest = Digest.sha256Of(blob);
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + blobDigest + "\",\"size\":" + blob.length
                + "},\"layers\":[]}").getBytes(StandardCharsets.UTF_8);
        Digest manifestDigest = Digest.sha256Of(manifest);
        try (FaultyUpstream registry = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                     + "  - name: reg.local\n    url: " + registry.url() + "\n    default: true\n"
                     + "  - name: down.local\n    url: http://127.0.0.1:" + Loopback.freePort() + "\n")) {
            registry.route("GET /v2/redir/same/blobs/" + blobDigest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
            registry.route("GET /v2/redir/same/manifests/v1", FaultyUpstream.fixed(200, OCI_MANIFEST, manifest,
                    Map.of("Docker-Content-Digest", manifestDigest.toString())));
            assertEquals(200, RegistryHttp.manifest(proxy.url(), "reg.local/redir/same", "v1").statusCode());
            assertArrayEquals(blob, RegistryHttp.get(proxy.url(), "/v2/reg.local/redir/same/blobs/" + blobDigest).body());

            HttpResponse<byte[]> strangerBlob = RegistryHttp.get(proxy.url(), "/v2/down.local/anyone/anything/blobs/" + blobDigest);
            HttpResponse<byte[]> strangerManifest = RegistryHttp.manifest(proxy.url(), "down.local/anyone/anything",
                    manifestDigest.toString());

            String blobError = new String(strangerBlob.body(), StandardCharsets.UTF_8);
            assertEquals(404, strangerBlob.statusCode(), blobError);
            assertTrue(blobError.contains("\"code\":\"BLOB_UNKNOWN\"") && blobError.contains("down.local"), blobError);
            String manifestError = new String(strangerManifest.body(), StandardCharsets.UTF_8);
            assertEquals(404, strangerManifest.statusCode(), manifestError);
            assertTrue(manifestError.contains("\"code\":\"MANIFEST_UNKNOWN\""), manifestError);

            assertArrayEquals(blob, RegistryHttp.get(proxy.url(), "/v2/reg.local/redir/same/blobs/" + blobDigest).body(),
                    "its own repository still gets it");
            assertEquals(1, registry.count("GET /v2/redir/same/blobs/" + blobDigest), "from the cache: one upstream GET in all");

            // An invalid Range (RFC 9110: ignored) gets the whole blob, not 416.
            HttpResponse<byte[]> invalidRange = RegistryHttp.get(proxy.url(), "/v2/reg.local/redir/same/blobs/" + blobDigest,
                    "Range", "bytes=--1");
            assertEquals(200, invalidRange.statusCode());
            assertArrayEquals(blob, invalidRange.body());
        }
    }

    // ---------------------------------------------------------------- hole 11: purge by digest

    @Test
    void purgeByDigest_anotherRepository_blobOfRedirSameUntouched() throws Exception {
        byte[] blob = new byte[32 * 1024];
        new Random(11).nextBytes(blob);
        Digest digest = Digest.sha256Of(blob);
        try (FaultyUpstream registry = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                     + "  - name: reg.local\n    url: " + registry.url() + "\n    default: true\n")) {
            registry.route("GET /v2/redir/same/blobs/" + digest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
            assertArrayEquals(blob, RegistryHttp.get(proxy.url(), "/v2/redir/same/blobs/" + digest).body());

            HttpResponse<byte[]> purged = RegistryHttp.method(proxy.url(), "DELETE", "/cache/images?image=some/otherrepo@" + digest);
            String answer = new String(purged.body(), StandardCharsets.UTF_8);
            assertFalse(answer.contains("\"blobs\":1"), answer);

            HttpResponse<byte[]> again = RegistryHttp.get(proxy.url(), "/v2/redir/same/blobs/" + digest);
            assertEquals(200, again.statusCode());
            assertArrayEquals(blob, again.body());
            assertEquals(1, registry.count("GET /v2/redir/same/blobs/" + digest), "still cached: no second upstream GET");
        }
    }
}
