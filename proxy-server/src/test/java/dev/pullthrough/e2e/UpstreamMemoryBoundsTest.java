package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.testing.Loopback;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, the hostile suite on one process: what an upstream declares must not take down the proxy
 * started as README starts it ({@code java @jvm.options}: 128 MiB heap, exit on OutOfMemoryError):
 * manifests of a million values, sixteen of the largest at once, huge tag lists, a blob declaring a
 * petabyte, an index graph of 2^40 paths. One proxy process for the whole class; after each attack it is the same process, still serves a cached blob byte-exact,
 * stayed under {@link #RSS_BOUND} throughout, and ends within {@link #GROWTH_BOUND} of where it
 * started.
 */
class UpstreamMemoryBoundsTest {
    private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    /** The deployment's memory request (deploy/kubernetes: requests 256Mi, limit 512Mi). */
    private static final long RSS_BOUND = 256L << 20;
    /** What the whole hostile suite may leave behind. */
    private static final long GROWTH_BOUND = 64L << 20;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    static Path temp;
    private static FaultyUpstream upstream;
    private static ProxyProcess proxy;
    private static long pid;
    private static long startedRss;
    private static byte[] blob;
    private static Digest blobDigest;

    @BeforeAll
    static void start() {
        upstream = new FaultyUpstream();
        blob = new byte[256 * 1024];
        new Random(26).nextBytes(blob);
        blobDigest = Digest.sha256Of(blob);
        upstream.route("GET /v2/test/base/blobs/" + blobDigest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
        proxy = ProxyProcess.serveLikeReadme(temp.resolve("data"), "upstreams:\n  - name: hostile\n    url: " + upstream.url() + "\n",
                Loopback.freePort(), temp.resolve("proxy.log"));
        pid = proxy.pid();
        warmUp();
        startedRss = proxy.residentBytes();
        System.out.printf("issue 26: proxy pid %d started at %d MiB resident%n", pid, startedRss >> 20);
    }

    @AfterAll
    static void stop() {
        try {
            if (proxy != null) {
                assertTrue(proxy.isAlive(), "the proxy is alive");
                awaitBackWithinGrowthBound();
                System.out.printf("issue 26: proxy ended the suite at %d MiB resident (started at %d MiB)%n",
                        proxy.residentBytes() >> 20, startedRss >> 20);
            }
        } finally {
            if (proxy != null) {
                proxy.close();
            }
            upstream.close();
        }
    }

    // ---------------------------------------------------------------- hole 1: one manifest of a million values

    @Test
    void manifest_millionEmptyObjects_refusedNamingTheLimit_cacheListingsStillAnswer() throws Exception {
        try (RssWatch watch = new RssWatch()) {
            for (int i = 0; i < 7; i++) {
                // ~3.9 MiB, valid JSON, a valid type and digest, under maxManifestSize: 1.36 million empty objects.
                byte[] bomb = emptyObjects(1_360_000, i);
                assertTrue(bomb.length < 4 << 20);
                upstream.route("GET /v2/test/bomb/manifests/v" + i, FaultyUpstream.fixed(200, OCI_MANIFEST, bomb,
                        Map.of("Docker-Content-Digest", Digest.sha256Of(bomb).toString())));

                HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "test/bomb", "v" + i);

                String body = new String(refused.body(), StandardCharsets.UTF_8);
                assertEquals(502, refused.statusCode(), body);
                assertTrue(body.contains("more than 200000 JSON tokens"), body);
            }
            assertEquals(200, RegistryHttp.get(proxy.url(), "/cache/images").statusCode());
            assertEquals(200, RegistryHttp.get(proxy.url(), "/status.json").statusCode());
            assertSurvived(watch);
        }
    }

    // ---------------------------------------------------------------- hole 2: sixteen ordinary 4 MiB manifests at once

    @Test
    void manifests_sixteenOfFourMiBAtOnce_allServedByteExact() throws Exception {
        List<byte[]> manifests = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            // Each at the default maxManifestSize, its size one annotation string.
            byte[] manifest = UpstreamBodyBudgetTest.manifestOf((4 << 20) - 16 - i);
            manifests.add(manifest);
            upstream.route("GET /v2/test/large/manifests/v" + i, FaultyUpstream.fixed(200, OCI_MANIFEST, manifest, Map.of()));
        }
        try (RssWatch watch = new RssWatch()) {
            List<CompletableFuture<HttpResponse<String>>> pulls = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                pulls.add(sha256Of(proxy.url().resolve("/v2/test/large/manifests/v" + i), "Accept", OCI_MANIFEST));
            }
            for (int i = 0; i < 16; i++) {
                HttpResponse<String> pulled = pulls.get(i).get(120, TimeUnit.SECONDS);
                assertEquals(200, pulled.statusCode(), "v" + i);
                assertEquals(Digest.sha256Of(manifests.get(i)).toString(), pulled.body(), "v" + i + " byte-exact");
                assertEquals(1, upstream.count("GET /v2/test/large/manifests/v" + i));
            }
            assertEquals(200, RegistryHttp.get(proxy.url(), "/cache/images").statusCode());
            assertSurvived(watch);
        }
    }

    // ---------------------------------------------------------------- minor: sixteen large tag lists at once

    @Test
    void tagsList_twelveMiBSixteenAtOnce_allServedByteExact() throws Exception {
        byte[] tags = tagList("test/tags", 12 << 20);
        upstream.route("GET /v2/test/tags/tags/list", FaultyUpstream.fixed(200, "application/json", tags, Map.of()));
        try (RssWatch watch = new RssWatch()) {
            List<CompletableFuture<HttpResponse<String>>> lists = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                lists.add(sha256Of(proxy.url().resolve("/v2/test/tags/tags/list")));
            }
            for (CompletableFuture<HttpResponse<String>> list : lists) {
                HttpResponse<String> listed = list.get(120, TimeUnit.SECONDS);
                assertEquals(200, listed.statusCode());
                assertEquals(Digest.sha256Of(tags).toString(), listed.body(), "byte-exact");
            }
            assertSurvived(watch);
        }
    }

    @Test
    void tagsList_thirtyMiBSixteenAtOnce_refusedNamingTheMemoryBudget() throws Exception {
        // Within the proxy's 32 MiB listing limit, but more than the heap may hold for bodies at once.
        byte[] tags = tagList("test/huge", 30 << 20);
        upstream.route("GET /v2/test/huge/tags/list", FaultyUpstream.fixed(200, "application/json", tags, Map.of()));
        try (RssWatch watch = new RssWatch()) {
            List<CompletableFuture<HttpResponse<byte[]>>> lists = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                lists.add(HTTP.sendAsync(HttpRequest.newBuilder(proxy.url().resolve("/v2/test/huge/tags/list")).build(),
                        HttpResponse.BodyHandlers.ofByteArray()));
            }
            for (CompletableFuture<HttpResponse<byte[]>> list : lists) {
                HttpResponse<byte[]> refused = list.get(120, TimeUnit.SECONDS);
                String body = new String(refused.body(), StandardCharsets.UTF_8);
                assertEquals(502, refused.statusCode(), body);
                assertTrue(body.contains("do not fit the proxy's memory budget for upstream bodies"), body);
            }
            assertSurvived(watch);
        }
    }

    // ---------------------------------------------------------------- the other holes, on the same process

    @Test
    void blob_declaringAPetabyte_passedThroughSameProcessSameMemory() throws Exception {
        Digest digest = Digest.sha256Of("a petabyte, it says".getBytes(StandardCharsets.UTF_8));
        CountDownLatch release = new CountDownLatch(1);
        upstream.route("GET /v2/test/peta/blobs/" + digest, BlobSizeBoundsTest.declaring(1_000_000_000_000_000L, 8 << 20, release));
        try (RssWatch watch = new RssWatch()) {
            HttpResponse<InputStream> answer = HTTP.send(HttpRequest.newBuilder(proxy.url().resolve("/v2/test/peta/blobs/" + digest))
                    .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = answer.body()) {
                assertEquals(200, answer.statusCode());
                assertEquals(1 << 20, in.readNBytes(1 << 20).length, "the upstream's bytes pass through as they come");
            } finally {
                release.countDown();
            }
            // What it evicts is BlobSizeBoundsTest's (a cache near its bound); here: the same process, memory, the cached blob.
            assertSurvived(watch);
        }
    }

    @Test
    void prefetch_childTwiceNested40Levels_oneGetPerDistinctDigest() throws Exception {
        HostileGraphAndLinksTest.Graph graph = HostileGraphAndLinksTest.doublingChain(upstream);
        try (RssWatch watch = new RssWatch()) {
            HttpResponse<String> answer = HTTP.send(HttpRequest.newBuilder(proxy.url().resolve("/prefetch?image=hostile/team/app:top"))
                    .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());

            assertEquals(200, answer.statusCode(), answer.body());
            HostileGraphAndLinksTest.assertEachDigestFetchedOnce(upstream, graph);
            assertSurvived(watch);
        }
    }

    // ---------------------------------------------------------------- helpers

    /**
     * One ordinary request of every kind the attacks make (a blob, a manifest, a tag list, the
     * cache listings): "where it started" is a proxy that has loaded and compiled the code they run.
     */
    private static void warmUp() {
        assertCachedBlobServed(); // the first request caches it
        byte[] manifest = UpstreamBodyBudgetTest.manifestOf(2048);
        upstream.route("GET /v2/test/warm/manifests/v1", FaultyUpstream.fixed(200, OCI_MANIFEST, manifest, Map.of()));
        upstream.route("GET /v2/test/warm/tags/list", FaultyUpstream.fixed(200, "application/json",
                "{\"name\":\"test/warm\",\"tags\":[\"v1\"]}".getBytes(StandardCharsets.UTF_8), Map.of()));
        assertArrayEquals(manifest, RegistryHttp.manifest(proxy.url(), "test/warm", "v1").body());
        assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/test/warm/tags/list").statusCode());
        assertEquals(200, RegistryHttp.get(proxy.url(), "/cache/images").statusCode());
        assertEquals(200, RegistryHttp.get(proxy.url(), "/status.json").statusCode());
    }

    /** Same process, a cached blob served byte-exact without the upstream, memory within its bounds. */
    private static void assertSurvived(RssWatch watch) {
        assertTrue(proxy.isAlive(), "the proxy is alive");
        assertEquals(pid, proxy.pid());
        assertCachedBlobServed();
        assertTrue(watch.peak() <= RSS_BOUND, "resident memory peaked at " + (watch.peak() >> 20) + " MiB");
        // Memory goes back within seconds of a burst (the heap shrinks, the C allocator trims).
        awaitBackWithinGrowthBound();
        long now = proxy.residentBytes();
        System.out.printf("issue 26: peak %d MiB resident, now %d MiB (started at %d MiB)%n", watch.peak() >> 20, now >> 20,
                startedRss >> 20);
    }

    private static void awaitBackWithinGrowthBound() {
        try {
            Await.until(() -> proxy.residentBytes() - startedRss <= GROWTH_BOUND, Duration.ofSeconds(30),
                    "resident memory back within " + (GROWTH_BOUND >> 20) + " MiB of the " + (startedRss >> 20) + " MiB it started at");
        } catch (Exception e) {
            throw new AssertionError(e.getMessage() + " (now " + (proxy.residentBytes() >> 20) + " MiB)", e);
        }
    }

    private static void assertCachedBlobServed() {
        HttpResponse<byte[]> served = RegistryHttp.get(proxy.url(), "/v2/test/base/blobs/" + blobDigest);
        assertEquals(200, served.statusCode());
        assertArrayEquals(blob, served.body());
        assertEquals(1, upstream.count("GET /v2/test/base/blobs/" + blobDigest), "served from the cache");
    }

    /** A tag list of {@code repository} of about {@code size} bytes. */
    private static byte[] tagList(String repository, int size) {
        StringBuilder text = new StringBuilder(size + 64).append("{\"name\":\"").append(repository).append("\",\"tags\":[");
        for (int i = 0; text.length() < size; i++) {
            text.append(i == 0 ? "" : ",").append("\"build-").append(String.format("%012d", i)).append('"');
        }
        return text.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }

    /** {@code {"schemaVersion":2,...,"x":[{},{},...]}} with {@code objects} empty objects; {@code salt} makes its digest its own. */
    private static byte[] emptyObjects(int objects, int salt) {
        StringBuilder text = new StringBuilder(objects * 3 + 128).append("{\"schemaVersion\":2,\"mediaType\":\"").append(OCI_MANIFEST)
                .append("\",\"salt\":").append(salt).append(",\"x\":[");
        for (int i = 0; i < objects; i++) {
            text.append(i == 0 ? "{}" : ",{}");
        }
        return text.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }

    /** GETs {@code uri}; the body as its sha256 digest, read as it streams (the test's heap holds no copy). */
    private static CompletableFuture<HttpResponse<String>> sha256Of(URI uri, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(2));
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return HTTP.sendAsync(request.build(), HttpResponse.BodyHandlers.ofInputStream()).thenApplyAsync(response -> {
            try (InputStream in = response.body()) {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                byte[] buffer = new byte[64 * 1024];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    sha.update(buffer, 0, n);
                }
                String digest = "sha256:" + HexFormat.of().formatHex(sha.digest());
                return new MappedResponse(response, digest);
            } catch (Exception e) {
                throw new AssertionError(uri + ": " + e, e);
            }
        });
    }

    /** Samples the proxy's resident memory every 20 ms while open; {@link #peak()} is the most seen. */
    private static final class RssWatch implements AutoCloseable {
        private final AtomicLong peak = new AtomicLong();
        private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();

        RssWatch() {
            sampler.scheduleAtFixedRate(() -> {
                if (proxy.isAlive()) {
                    try {
                        peak.accumulateAndGet(Files.exists(Path.of("/proc", Long.toString(pid))) ? proxy.residentBytes() : 0, Math::max);
                    } catch (AssertionError gone) {
                        // exited between the check and the read: isAlive() says so afterwards
                    }
                }
            }, 0, 20, TimeUnit.MILLISECONDS);
        }

        long peak() {
            return Math.max(peak.get(), proxy.residentBytes());
        }

        @Override
        public void close() {
            sampler.shutdownNow();
        }
    }

    /** A response whose body was reduced to its digest. */
    private record MappedResponse(HttpResponse<InputStream> response, String body) implements HttpResponse<String> {
        @Override
        public int statusCode() {
            return response.statusCode();
        }

        @Override
        public HttpRequest request() {
            return response.request();
        }

        @Override
        public java.util.Optional<HttpResponse<String>> previousResponse() {
            return java.util.Optional.empty();
        }

        @Override
        public java.net.http.HttpHeaders headers() {
            return response.headers();
        }

        @Override
        public java.util.Optional<javax.net.ssl.SSLSession> sslSession() {
            return response.sslSession();
        }

        @Override
        public URI uri() {
            return response.uri();
        }

        @Override
        public HttpClient.Version version() {
            return response.version();
        }
    }
}
