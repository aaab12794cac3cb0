package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.app.ProxyCore;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Admin prefetches waiting on a slow upstream hold no worker thread (issue 29): with more of them
 * waiting at once than there are workers, {@code /healthz} and a pull are still answered, and every
 * prefetch answers once its upstream does.
 */
class PrefetchOffWorkersTest {
    private static final String HELD_MANIFEST = "GET /v2/team/held/manifests/v1";

    @TempDir
    Path temp;

    @Test
    void prefetch_moreHeldThanWorkers_healthAndPullsStillAnswered() throws Exception {
        byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"
                .getBytes(StandardCharsets.UTF_8);
        byte[] layer = new byte[4096];
        new Random(29).nextBytes(layer);
        Digest configDigest = Digest.sha256Of(config);
        Digest layerDigest = Digest.sha256Of(layer);
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"size\":" + config.length + ",\"digest\":\"" + configDigest + "\"},"
                + "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":" + layer.length
                + ",\"digest\":\"" + layerDigest + "\"}]}").getBytes(StandardCharsets.UTF_8);
        Digest manifestDigest = Digest.sha256Of(manifest);
        int prefetches = ProxyCore.BLOCKING_THREADS + 1;
        CountDownLatch release = new CountDownLatch(1);
        HttpClient admin = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        try (ReferenceRegistry hub = ReferenceRegistry.start(temp.resolve("hub"));
             FaultyUpstream slow = new FaultyUpstream()
                     // The manifest's answer waits for the test: every prefetch of it is held at the upstream.
                     .route(HELD_MANIFEST, exchange -> {
                         try {
                             release.await();
                         } catch (InterruptedException e) {
                             Thread.currentThread().interrupt();
                         }
                         FaultyUpstream.fixed(200, MediaTypes.OCI_MANIFEST, manifest,
                                 Map.of("Docker-Content-Digest", manifestDigest.toString())).answer(exchange);
                     })
                     .route("HEAD /v2/team/held/blobs/" + configDigest, blob(config))
                     .route("GET /v2/team/held/blobs/" + configDigest, blob(config))
                     .route("HEAD /v2/team/held/blobs/" + layerDigest, blob(layer))
                     .route("GET /v2/team/held/blobs/" + layerDigest, blob(layer));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "server:\n  maxConnectionsPerClient: 1000\n"
                     + "upstreams:\n"
                     + "  - name: docker.io\n    url: " + hub.url() + "\n    default: true\n"
                     // The upstream's own timeout far beyond the test's waits: only the test ends a held answer.
                     + "  - name: slow\n    url: " + slow.url() + "\n    responseTimeout: 10m\n");
             // Closed before the upstream: a failed assertion leaves no prefetch held.
             AutoCloseable releaseAtEnd = release::countDown) {
            Pushed app = new TestImages(hub.url(), 29).pushImage("team/app", "v1", Format.OCI, 1, 8 * 1024);
            URI prefetch = URI.create(proxy.url() + "/prefetch?image=slow/team/held:v1");
            List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
            for (int i = 0; i < prefetches; i++) {
                answers.add(admin.sendAsync(HttpRequest.newBuilder(prefetch).POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            // On worker threads, only as many prefetches as there are workers could be waiting here.
            try {
                Await.until(() -> slow.count(HELD_MANIFEST) == prefetches, Duration.ofSeconds(60),
                        prefetches + " prefetches waiting on the upstream at once");
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "; " + slow.count(HELD_MANIFEST) + " reached it", e);
            }

            assertEquals(200, within(() -> RegistryHttp.get(proxy.url(), "/healthz")).statusCode(), "health answered meanwhile");
            HttpResponse<byte[]> pulled = within(() -> RegistryHttp.manifest(proxy.url(), app.repository(), "v1"));
            assertEquals(200, pulled.statusCode(), "a pull answered meanwhile");
            assertArrayEquals(app.bytes(), pulled.body());
            for (Digest blob : app.blobs()) {
                HttpResponse<byte[]> served = within(() -> RegistryHttp.get(proxy.url(), "/v2/team/app/blobs/" + blob));
                assertEquals(200, served.statusCode());
                assertEquals(blob, Digest.sha256Of(served.body()));
            }
            assertFalse(answers.stream().anyMatch(CompletableFuture::isDone), "the prefetches are still waiting on the upstream");

            release.countDown();
            for (CompletableFuture<HttpResponse<String>> answer : answers) {
                HttpResponse<String> done = answer.get(120, TimeUnit.SECONDS);
                assertEquals(200, done.statusCode(), done.body());
                assertTrue(done.body().contains("\"digest\":\"" + manifestDigest + "\""), done.body());
            }
            assertArrayEquals(layer, RegistryHttp.get(proxy.url(), "/v2/slow/team/held/blobs/" + layerDigest).body(),
                    "the prefetched layer is served");
        }
    }

    private static FaultyUpstream.Answer blob(byte[] bytes) {
        return FaultyUpstream.fixed(200, "application/octet-stream", bytes, Map.of("Docker-Content-Digest", Digest.sha256Of(bytes).toString()));
    }

    /** The answer to a request made on a thread of its own, failing the test if it takes a minute (it would hang on a worker). */
    private static <T> T within(Supplier<T> request) throws Exception {
        return CompletableFuture.supplyAsync(request).get(60, TimeUnit.SECONDS);
    }
}
