package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a hostile or broken upstream must not get into the cache, and what the shared cache must not
 * hand to a repository the upstream did not vouch for (issue 13): a blob joined while it downloads,
 * a blob under a repository whose check the upstream answered 429 or 503, a captive portal's page
 * answered as a manifest.
 */
class HostileUpstreamTest {
    private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

    @TempDir
    Path temp;

    @Test
    void blob_downloadingForOneRepository_notServedToAnotherWithoutTheUpstreamsWord() throws Exception {
        byte[] blob = new byte[128 * 1024];
        new Random(131).nextBytes(blob);
        Digest digest = Digest.sha256Of(blob);
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: faulty\n    url: "
                     + upstream.url() + "\n")) {
            // Held after its first 4 KiB until the stranger has its answer: the download is running when
            // it asks, whatever the machine's speed (issue 29).
            java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            upstream.route("GET /v2/test/big/blobs/" + digest, FaultyUpstream.held(blob, 4096, release));
            CompletableFuture<HttpResponse<byte[]>> owner = HttpClient.newHttpClient().sendAsync(
                    HttpRequest.newBuilder(URI.create(proxy.url() + "/v2/test/big/blobs/" + digest)).build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            Await.until(() -> upstream.count("GET /v2/test/big/blobs/" + digest) > 0, Duration.ofSeconds(60),
                    "the owner's download started");

            // With a deadline: a stranger let join the held download would otherwise wait for it forever.
            HttpResponse<byte[]> stranger;
            boolean ownerStillDownloading;
            try {
                stranger = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create(proxy.url() + "/v2/test/nothere/blobs/" + digest)).timeout(Duration.ofSeconds(60)).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                ownerStillDownloading = !owner.isDone();
            } finally {
                release.countDown();
            }
            assertTrue(ownerStillDownloading, "the download was still running when the stranger asked");
            assertEquals(404, stranger.statusCode());
            assertTrue(new String(stranger.body(), StandardCharsets.UTF_8).contains("\"code\":\"BLOB_UNKNOWN\""));
            assertEquals(1, upstream.count("HEAD /v2/test/nothere/blobs/" + digest), "the upstream was asked about test/nothere");

            assertArrayEquals(blob, owner.get(60, TimeUnit.SECONDS).body(), "the owner got the whole blob");
            assertEquals(1, upstream.count("GET /v2/test/big/blobs/" + digest), "one download");

            // Committed now. An upstream that answers the check with 429 or 503 did not say yes.
            upstream.route("HEAD /v2/test/limited/blobs/" + digest, FaultyUpstream.fixed(429, "application/json",
                    "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\"}]}".getBytes(StandardCharsets.UTF_8), Map.of("Retry-After", "30")));
            upstream.route("HEAD /v2/test/broken/blobs/" + digest, FaultyUpstream.fixed(503, "text/plain", new byte[0], Map.of()));
            HttpResponse<byte[]> limited = RegistryHttp.get(proxy.url(), "/v2/test/limited/blobs/" + digest);
            assertEquals(429, limited.statusCode());
            assertEquals("30", limited.headers().firstValue("Retry-After").orElse(""));
            HttpResponse<byte[]> broken = RegistryHttp.get(proxy.url(), "/v2/test/broken/blobs/" + digest);
            assertEquals(502, broken.statusCode());
            assertTrue(limited.body().length < 1024 && broken.body().length < 1024, "not a byte of the blob");
        }
    }

    @Test
    void manifest_captivePortalPage_neverCachedNamesWhatCame() {
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: portal\n    url: "
                     + upstream.url() + "\n")) {
            byte[] page = "<html><body>Please log in to the hotel Wi-Fi</body></html>".getBytes(StandardCharsets.UTF_8);
            upstream.route("GET /v2/test/app/manifests/v1", FaultyUpstream.fixed(200, "text/html", page, Map.of()));
            upstream.route("GET /v2/test/app/manifests/" + Digest.sha256Of(page),
                    FaultyUpstream.fixed(200, "text/html", page, Map.of()));
            for (int attempt = 1; attempt <= 2; attempt++) {
                HttpResponse<byte[]> byTag = RegistryHttp.manifest(proxy.url(), "test/app", "v1");
                String body = new String(byTag.body(), StandardCharsets.UTF_8);
                assertEquals(502, byTag.statusCode(), body);
                assertTrue(body.contains("'text/html', which is not a manifest media type"), body);
                assertEquals(attempt, upstream.count("GET /v2/test/app/manifests/v1"), "nothing was cached");
            }
            assertEquals(502, RegistryHttp.manifest(proxy.url(), "test/app", Digest.sha256Of(page).toString()).statusCode(),
                    "not under its digest either");

            byte[] liar = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
                    + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
                    + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}")
                    .getBytes(StandardCharsets.UTF_8);
            upstream.route("GET /v2/test/app/manifests/v2", FaultyUpstream.fixed(200, OCI_MANIFEST, liar, Map.of()));
            HttpResponse<byte[]> mismatched = RegistryHttp.manifest(proxy.url(), "test/app", "v2");
            assertEquals(502, mismatched.statusCode());
            assertTrue(new String(mismatched.body(), StandardCharsets.UTF_8).contains("but came as " + OCI_MANIFEST));
        }
    }

    @Test
    void manifest_largerThanLimit_refusedBeforeBufferedNeverCached() {
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: huge\n    url: "
                     + upstream.url() + "\n    maxManifestSize: 1MiB\n")) {
            byte[] huge = new byte[5 << 20];
            java.util.Arrays.fill(huge, (byte) ' ');
            upstream.route("GET /v2/test/app/manifests/v1", FaultyUpstream.fixed(200, OCI_MANIFEST, huge, Map.of()));
            for (int attempt = 1; attempt <= 2; attempt++) {
                // The second answer is no cached manifest either: the refusal, remembered for a moment.
                HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "test/app", "v1");
                String body = new String(refused.body(), StandardCharsets.UTF_8);
                assertEquals(502, refused.statusCode(), body);
                assertTrue(body.contains("is too large") && body.contains("maxManifestSize"), body);
            }
            assertEquals(1, upstream.count("GET /v2/test/app/manifests/v1"), "a garbage answer is not fetched again at once");
        }
    }

    @Test
    void upstreamNotListening_errorSaysConnectionRefused() {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: gone\n    url: http://127.0.0.1:9\n")) {
            HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "test/app", "v1");
            String body = new String(refused.body(), StandardCharsets.UTF_8);
            assertEquals(502, refused.statusCode(), body);
            assertTrue(body.contains("connection to 127.0.0.1 refused"), "the cause in words, not an exception's name: " + body);
        }
    }
}
