package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.io.OutputStream;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A slow or silent upstream must never starve the cache: while 80 clients wait on an upstream that
 * trickles manifests at 1 byte a second or never answers, a cached blob and {@code /metrics} still
 * answer at once; the held requests end at their deadlines with 504 and nothing partial is cached;
 * a trickled blob is aborted at its rate floor and frees its download slot.
 */
class SlowUpstreamTest {
    private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    private static final byte[] MANIFEST = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":"
            + "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":"
            + "\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}")
            .getBytes(StandardCharsets.UTF_8);
    private static final int HELD_CLIENTS = 80;

    @TempDir
    Path temp;

    private final CountDownLatch release = new CountDownLatch(1);

    /** Headers at once, then the body one byte a second. */
    private FaultyUpstream.Answer trickledManifest() {
        return exchange -> {
            exchange.getResponseHeaders().set("Content-Type", OCI_MANIFEST);
            exchange.sendResponseHeaders(200, MANIFEST.length);
            OutputStream out = exchange.getResponseBody();
            try {
                for (byte b : MANIFEST) {
                    out.write(b);
                    out.flush();
                    if (release.await(1, TimeUnit.SECONDS)) {
                        throw new IOException("test over");
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            out.close();
        };
    }

    /** Never a byte, until the test ends. */
    private FaultyUpstream.Answer silence() {
        return (HttpExchange exchange) -> {
            try {
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("test over");
        };
    }

    @Test
    void slowUpstream_cacheHitsAndMetricsStillFast_heldRequestsEndAt504() throws Exception {
        byte[] blob = new byte[1 << 20];
        new Random(91).nextBytes(blob);
        Digest blobDigest = Digest.sha256Of(blob);
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: slow.test\n"
                     + "    url: " + upstream.url() + "\n    default: true\n    responseTimeout: 10s\n    manifestTimeout: 12s\n")) {
            upstream.route("GET /v2/slow/app/blobs/" + blobDigest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
            assertArrayEquals(blob, RegistryHttp.get(proxy.url(), "/v2/slow/app/blobs/" + blobDigest).body(), "cached first");
            for (int i = 0; i < HELD_CLIENTS / 2; i++) {
                upstream.route("GET /v2/slow/app/manifests/trickle" + i, trickledManifest());
                upstream.route("GET /v2/slow/app/manifests/silent" + i, silence());
            }
            HttpClient clients = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            long started = System.nanoTime();
            List<CompletableFuture<HttpResponse<byte[]>>> held = new ArrayList<>();
            for (int i = 0; i < HELD_CLIENTS / 2; i++) {
                for (String tag : new String[] {"trickle" + i, "silent" + i}) {
                    held.add(clients.sendAsync(HttpRequest.newBuilder(URI.create(proxy.url() + "/v2/slow/app/manifests/" + tag))
                            .header("Accept", OCI_MANIFEST).timeout(Duration.ofSeconds(120)).build(),
                            HttpResponse.BodyHandlers.ofByteArray()));
                }
            }
            Await.until(() -> upstreamManifestGets(upstream) >= HELD_CLIENTS, Duration.ofSeconds(60), "all 80 requests reached the upstream");

            long slowest = 0;
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                HttpResponse<byte[]> hit = RegistryHttp.get(proxy.url(), "/v2/slow/app/blobs/" + blobDigest);
                assertEquals(200, hit.statusCode());
                assertEquals(blobDigest, Digest.sha256Of(hit.body()));
                HttpResponse<byte[]> metrics = RegistryHttp.get(proxy.url(), "/metrics");
                assertEquals(200, metrics.statusCode());
                slowest = Math.max(slowest, System.nanoTime() - t0);
            }
            System.out.printf("slow upstream: cached 1 MiB blob + /metrics, slowest of 5 with %d requests held: %.1f ms%n",
                    HELD_CLIENTS, slowest / 1e6);
            assertTrue(held.stream().noneMatch(CompletableFuture::isDone), "the held requests are still held");
            // Starved, they would wait for the held requests' deadlines (10 s and more); served, they take
            // milliseconds. The bound sits far from both, so a busy machine does not decide (issue 29).
            assertTrue(slowest < Duration.ofSeconds(1).toNanos(),
                    "a cached 1 MiB blob and /metrics together took " + slowest / 1_000_000 + " ms with 80 requests held");

            for (CompletableFuture<HttpResponse<byte[]>> request : held) {
                HttpResponse<byte[]> response = request.get(120, TimeUnit.SECONDS);
                assertEquals(504, response.statusCode(), new String(response.body(), StandardCharsets.UTF_8));
                assertTrue(new String(response.body(), StandardCharsets.UTF_8).contains("\"code\":\"UPSTREAM_TIMEOUT\""));
            }
            long took = System.nanoTime() - started;
            System.out.printf("slow upstream: all %d held requests ended with 504 after %d ms%n", HELD_CLIENTS, took / 1_000_000);
            // At their deadlines (12 s at most), not when the upstream let go (never, or 1 byte a second).
            assertTrue(took < Duration.ofSeconds(120).toNanos(), "held requests ended at their deadlines (12 s), took "
                    + took / 1_000_000 + " ms");

            release.countDown();
            upstream.route("GET /v2/slow/app/manifests/trickle0", FaultyUpstream.fixed(200, OCI_MANIFEST, MANIFEST, Map.of()));
            // The outage is believed for a few seconds (clients are answered at once meanwhile), then asked again.
            Await.until(() -> RegistryHttp.get(proxy.url(), "/v2/slow/app/manifests/trickle0", "Accept", OCI_MANIFEST).statusCode() == 200,
                    Duration.ofSeconds(60), "the upstream is asked again once it answers");
            HttpResponse<byte[]> later = RegistryHttp.get(proxy.url(), "/v2/slow/app/manifests/trickle0", "Accept", OCI_MANIFEST);
            assertArrayEquals(MANIFEST, later.body(), "nothing partial was cached: the whole manifest came afresh");
            assertEquals(2, upstream.count("GET /v2/slow/app/manifests/trickle0"), "one held request, one whole answer");
        }
    }

    @Test
    void trickledBlob_abortedBelowMinRate_slotFreedNothingCached() throws Exception {
        byte[] blob = new byte[256 * 1024];
        new Random(92).nextBytes(blob);
        Digest digest = Digest.sha256Of(blob);
        Path data = temp.resolve("proxy");
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(data, "upstreams:\n  - name: slow.test\n    url: " + upstream.url()
                     + "\n    default: true\n    blobMinRate: 4KiB\n    blobRateWindow: 2s\n")) {
            upstream.route("GET /v2/slow/app/blobs/" + digest, FaultyUpstream.trickle(blob, 100, 100, blob.length));
            long t0 = System.nanoTime();
            HttpClient client = HttpClient.newHttpClient();
            HttpResponse<byte[]> response = null;
            try {
                response = client.send(HttpRequest.newBuilder(URI.create(proxy.url() + "/v2/slow/app/blobs/" + digest)).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
            } catch (IOException expected) {
                // the transfer was cut: a short body must never look like success
            }
            assertTrue(response == null || response.statusCode() != 200 || response.body().length < blob.length,
                    "the client never gets the whole trickled blob");
            // The whole trickle would take over four minutes; the rate floor cuts it within a few 2 s windows.
            assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(60).toNanos(), "aborted within a few rate windows");
            Await.until(() -> proxy.metrics().scrape().contains("pullthrough_downloads_in_flight 0.0"), Duration.ofSeconds(30),
                    "the download slot is free");
            assertFalse(Files.exists(data.resolve("blobs").resolve("sha256").resolve(digest.hex().substring(0, 2))
                    .resolve(digest.hex())), "nothing was committed");
            upstream.route("GET /v2/slow/app/blobs/" + digest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
            assertArrayEquals(blob, RegistryHttp.get(proxy.url(), "/v2/slow/app/blobs/" + digest).body());
        }
    }

    private static long upstreamManifestGets(FaultyUpstream upstream) {
        long n = 0;
        for (int i = 0; i < HELD_CLIENTS / 2; i++) {
            n += upstream.count("GET /v2/slow/app/manifests/trickle" + i) + upstream.count("GET /v2/slow/app/manifests/silent" + i);
        }
        return n;
    }
}
