package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The blob engine: one upstream download per blob, shared by every client, ranges, faults. */
class BlobEngineTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    Path temp;

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /** GETs a URL and hashes the body as it streams in; returns the status and the sha256 digest. */
    private static String[] streamedDigest(URI uri) throws IOException, InterruptedException {
        HttpResponse<InputStream> response = HTTP.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofInputStream());
        MessageDigest sha = Digest.parse("sha256:" + "0".repeat(64)).newHasher();
        long total = 0;
        try (InputStream in = response.body()) {
            byte[] buffer = new byte[64 * 1024];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                sha.update(buffer, 0, n);
                total += n;
            }
        }
        return new String[] {Integer.toString(response.statusCode()), "sha256:" + HexFormat.of().formatHex(sha.digest()),
                Long.toString(total)};
    }

    private static HttpResponse<byte[]> get(URI uri, String... headers) {
        return RegistryHttp.get(URI.create(uri.getScheme() + "://" + uri.getAuthority()), uri.getRawPath(), headers);
    }

    private static long tempFiles(Path data) throws IOException {
        Path tmp = data.resolve("tmp");
        if (!Files.isDirectory(tmp)) {
            return 0;
        }
        try (Stream<Path> files = Files.list(tmp)) {
            return files.count();
        }
    }

    // ---------------------------------------------------------------- single flight

    @Test
    void get_twentyConcurrentColdRequests_oneUpstreamDownloadAndRightDigests() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstream.url())) {
            byte[] blob = random(64 << 20, 1);
            Digest digest = new TestImages(upstream.url(), 1).pushBlob("big/app", blob);
            URI uri = proxy.url().resolve("/v2/big/app/blobs/" + digest);

            ExecutorService clients = Executors.newFixedThreadPool(20);
            List<Future<String[]>> results = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                results.add(clients.submit(() -> streamedDigest(uri)));
            }
            for (Future<String[]> result : results) {
                String[] answer = result.get(120, TimeUnit.SECONDS);
                assertEquals("200", answer[0]);
                assertEquals(digest.toString(), answer[1]);
                assertEquals(Long.toString(blob.length), answer[2]);
            }
            clients.shutdown();
            assertEquals(1, upstream.requests("GET", "/v2/big/app/blobs/" + digest), "the upstream served the blob once");
            assertEquals(1, proxy.upstreamRequests("blob", "GET"));
        }
    }

    @Test
    void get_slowClientOnSameDownload_doesNotStallFastOne() throws Exception {
        byte[] blob = random(16 << 20, 2);
        Digest digest = Digest.sha256Of(blob);
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: f\n    url: " + upstream.url() + "\n")) {
            String path = "/v2/slow/app/blobs/" + digest;
            upstream.route("GET " + path, FaultyUpstream.trickle(blob, 512 * 1024, 40, Long.MAX_VALUE));

            try (Socket slow = new Socket()) {
                // A client that asks and then never reads: its socket buffer fills and stays full.
                slow.setReceiveBufferSize(4096);
                slow.connect(new InetSocketAddress("127.0.0.1", proxy.url().getPort()));
                slow.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                slow.getOutputStream().flush();
                Await.until(() -> upstream.count("GET " + path) == 1, Duration.ofSeconds(10), "the slow client's download started");

                long started = System.nanoTime();
                String[] fast = streamedDigest(proxy.url().resolve(path));
                long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
                assertEquals("200", fast[0]);
                assertEquals(digest.toString(), fast[1]);
                assertTrue(seconds < 30, "the fast client finished in " + seconds + "s");
            }
            assertEquals(1, upstream.count("GET " + path), "both clients shared one upstream download");
            assertEquals(digest.toString(), streamedDigest(proxy.url().resolve(path))[1]);
            assertEquals(1, upstream.count("GET " + path), "committed: later requests come from disk");
        }
    }

    // ---------------------------------------------------------------- ranges

    @Test
    void get_rangeOnCachedBlob_exactBytes206And416() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstream.url())) {
            byte[] blob = random(100_000, 3);
            Digest digest = new TestImages(upstream.url(), 3).pushBlob("range/app", blob);
            URI uri = proxy.url().resolve("/v2/range/app/blobs/" + digest);
            assertEquals(digest.toString(), streamedDigest(uri)[1]);

            HttpResponse<byte[]> middle = get(uri, "Range", "bytes=100-199");
            assertEquals(206, middle.statusCode());
            assertEquals("bytes 100-199/100000", middle.headers().firstValue("Content-Range").orElseThrow());
            assertEquals("100", middle.headers().firstValue("Content-Length").orElseThrow());
            assertArrayEquals(Arrays.copyOfRange(blob, 100, 200), middle.body());

            HttpResponse<byte[]> suffix = get(uri, "Range", "bytes=-10");
            assertArrayEquals(Arrays.copyOfRange(blob, blob.length - 10, blob.length), suffix.body());
            HttpResponse<byte[]> open = get(uri, "Range", "bytes=99990-");
            assertEquals("bytes 99990-99999/100000", open.headers().firstValue("Content-Range").orElseThrow());
            assertArrayEquals(Arrays.copyOfRange(blob, 99_990, 100_000), open.body());

            HttpResponse<byte[]> beyond = get(uri, "Range", "bytes=100000-");
            assertEquals(416, beyond.statusCode());
            assertEquals("bytes */100000", beyond.headers().firstValue("Content-Range").orElseThrow());
            assertEquals(1, proxy.upstreamRequests("blob", "GET"));
        }
    }

    @Test
    void get_rangeOfUncachedBlobWhileDownloading_answeredFromTheOneDownload() throws Exception {
        byte[] blob = random(8 << 20, 4);
        Digest digest = Digest.sha256Of(blob);
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: f\n    url: " + upstream.url() + "\n")) {
            String path = "/v2/lazy/app/blobs/" + digest;
            upstream.route("GET " + path, FaultyUpstream.trickle(blob, 256 * 1024, 30, Long.MAX_VALUE));
            URI uri = proxy.url().resolve(path);

            // The first request is a range (a lazy-pull snapshotter): it starts the download.
            HttpResponse<byte[]> head = get(uri, "Range", "bytes=0-1023");
            assertEquals(206, head.statusCode());
            assertArrayEquals(Arrays.copyOfRange(blob, 0, 1024), head.body());
            HttpResponse<byte[]> tail = get(uri, "Range", "bytes=" + (blob.length - 5000) + "-");
            assertEquals(206, tail.statusCode());
            assertArrayEquals(Arrays.copyOfRange(blob, blob.length - 5000, blob.length), tail.body());
            assertEquals(1, upstream.count("GET " + path), "one download served both ranges");
        }
    }

    // ---------------------------------------------------------------- faults

    @Test
    void get_upstreamResetMidBlob_clientAbortedNothingKeptNextRequestFresh() throws Exception {
        byte[] blob = random(4 << 20, 5);
        Digest digest = Digest.sha256Of(blob);
        Path data = temp.resolve("proxy");
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(data, "upstreams:\n  - name: f\n    url: " + upstream.url() + "\n")) {
            String path = "/v2/reset/app/blobs/" + digest;
            upstream.route("GET " + path, FaultyUpstream.trickle(blob, 256 * 1024, 5, blob.length / 2));

            assertNoCompleteBody(proxy.url().resolve(path), blob.length);
            Await.until(() -> tempFiles(data) == 0, Duration.ofSeconds(10), "the temp file was removed");

            upstream.route("GET " + path, FaultyUpstream.trickle(blob, 1 << 20, 0, Long.MAX_VALUE));
            String[] again = streamedDigest(proxy.url().resolve(path));
            assertEquals(digest.toString(), again[1]);
            assertEquals(2, upstream.count("GET " + path), "the next request started a fresh download");
        }
    }

    @Test
    void get_upstreamBytesDoNotMatchDigest_clientNeverGetsCompleteBodyAndNothingCommitted() throws Exception {
        byte[] blob = random(2 << 20, 6);
        Digest digest = Digest.sha256Of(blob);
        byte[] wrong = blob.clone();
        wrong[wrong.length / 3] ^= 1;
        Path data = temp.resolve("proxy");
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(data, "upstreams:\n  - name: f\n    url: " + upstream.url() + "\n")) {
            String path = "/v2/wrong/app/blobs/" + digest;
            upstream.route("GET " + path, FaultyUpstream.trickle(wrong, 256 * 1024, 5, Long.MAX_VALUE));

            assertNoCompleteBody(proxy.url().resolve(path), blob.length);
            assertNoCompleteBody(proxy.url().resolve(path), blob.length);
            assertEquals(2, upstream.count("GET " + path), "nothing was committed under the digest");
            Await.until(() -> tempFiles(data) == 0, Duration.ofSeconds(10), "the temp files were removed");
        }
    }

    /** The client's response must fail or stay short: a complete body would look like success. */
    private static void assertNoCompleteBody(URI uri, long length) throws InterruptedException {
        try {
            String[] answer = streamedDigest(uri);
            assertFalse(answer[0].equals("200") && Long.parseLong(answer[2]) == length,
                    "a complete 200 body of wrong or missing bytes reached the client");
        } catch (IOException expected) {
            // the connection was aborted before the end: what a client must see
        }
    }

    @Test
    void get_upstreamRedirectsToOtherHost_followedWithoutCredentials() throws Exception {
        byte[] blob = random(300_000, 7);
        Digest digest = Digest.sha256Of(blob);
        Map<String, String> seenByCdn = new ConcurrentHashMap<>();
        try (FaultyUpstream registry = new FaultyUpstream(); FaultyUpstream cdn = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: r\n    url: "
                     + registry.url() + "\n    username: puller\n    password: secret\n")) {
            String path = "/v2/cdn/app/blobs/" + digest;
            registry.route("GET " + path, exchange -> {
                if (exchange.getRequestHeaders().getFirst("Authorization") == null) {
                    exchange.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"test\"");
                    exchange.sendResponseHeaders(401, -1);
                    return;
                }
                // Another host name for the same machine: the CDN of a real registry.
                exchange.getResponseHeaders().set("Location", "http://localhost:" + cdn.url().getPort() + "/data/blob?sig=1");
                exchange.sendResponseHeaders(307, -1);
            });
            cdn.route("GET /data/blob", exchange -> {
                seenByCdn.put("authorization", String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
                FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()).answer(exchange);
            });

            HttpResponse<byte[]> response = RegistryHttp.get(proxy.url(), path);
            assertEquals(200, response.statusCode());
            assertEquals(digest, Digest.sha256Of(response.body()));
            assertEquals("null", seenByCdn.get("authorization"), "no Authorization header went to the other host");
            assertEquals(2, registry.count("GET " + path), "challenged once, then answered with the redirect");
        }
    }

    @Test
    void getAndHead_upstreamRefusals_becomeMatchingOciErrors() {
        Digest digest = Digest.sha256Of(new byte[] {1});
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: f\n    url: " + upstream.url() + "\n")) {
            upstream.route("GET /v2/limited/app/blobs/" + digest, FaultyUpstream.fixed(429, "application/json",
                    "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}".getBytes(StandardCharsets.UTF_8), Map.of("Retry-After", "30")));
            upstream.route("GET /v2/broken/app/blobs/" + digest, FaultyUpstream.fixed(503, "text/plain", new byte[] {'x'}, Map.of()));

            HttpResponse<byte[]> limited = RegistryHttp.get(proxy.url(), "/v2/limited/app/blobs/" + digest);
            assertEquals(429, limited.statusCode());
            assertEquals("30", limited.headers().firstValue("Retry-After").orElseThrow());
            assertTrue(new String(limited.body(), StandardCharsets.UTF_8).contains("\"code\":\"TOOMANYREQUESTS\""));

            HttpResponse<byte[]> broken = RegistryHttp.get(proxy.url(), "/v2/broken/app/blobs/" + digest);
            assertEquals(502, broken.statusCode());
            assertTrue(new String(broken.body(), StandardCharsets.UTF_8).startsWith("{\"errors\":[{\"code\":\"UPSTREAM_UNAVAILABLE\""));

            HttpResponse<byte[]> missing = RegistryHttp.head(proxy.url(), "/v2/missing/app/blobs/" + digest);
            assertEquals(404, missing.statusCode());
            assertEquals(1, upstream.count("HEAD /v2/missing/app/blobs/" + digest), "HEAD asked upstream with HEAD");
            assertEquals(0, upstream.count("GET /v2/missing/app/blobs/" + digest), "and started no download");
        }
    }
}
