package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keep-warm ({@code warm}): the listed tag is fetched at start, then only HEADed every interval (the
 * real registry counts), fetched again when it moved, and served from the cache once the upstream is gone.
 */
class KeepWarmTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path temp;

    private static JsonNode warm(ProxyUnderTest proxy) throws IOException {
        return JSON.readTree(RegistryHttp.get(proxy.url(), "/status.json").body()).get("warm");
    }

    @Test
    void listedTag_fetchedOnce_thenHeadedEachInterval_fetchedAgainWhenMoved() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"))) {
            TestImages images = new TestImages(upstream.url(), 41);
            Pushed first = images.pushImage("team/warm", "v1", Format.OCI, 2, 16 * 1024);
            String manifestPath = "/v2/team/warm/manifests/v1";
            // A short tag TTL, so that the part without the upstream runs past it, on the outage path (issue 29).
            try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "warm:\n  interval: 1s\n  images: [\"team/warm:v1\"]\n"
                    + "upstreams:\n  - name: docker.io\n    url: " + upstream.url() + "\n    default: true\n    tagTtl: 2s\n"
                    + "    maxStale: 1h\n")) {
                Await.until(() -> warm(proxy).get("runs").asLong() >= 1, Duration.ofSeconds(30), "the first keep-warm run");
                JsonNode fetched = warm(proxy).get("outcomes").get(0);
                assertEquals("fetched", fetched.get("result").asText(), fetched.toString());
                assertEquals(first.digest().toString(), fetched.get("digest").asText());
                assertEquals(1, upstream.requests("GET", manifestPath));
                for (Digest blob : first.blobs()) {
                    assertEquals(1, upstream.requests("GET", "/v2/team/warm/blobs/" + blob), "every blob fetched once");
                }

                Await.until(() -> warm(proxy).get("runs").asLong() >= 3, Duration.ofSeconds(30), "two more runs");
                assertEquals("unchanged", warm(proxy).get("outcomes").get(0).get("result").asText());
                assertTrue(upstream.requests("HEAD", manifestPath) >= 2, "a HEAD per run");
                assertEquals(1, upstream.requests("GET", manifestPath), "no GET (no Docker Hub pull) while it did not move");
                assertTrue(warm(proxy).get("nextRun").asText().compareTo(warm(proxy).get("lastRun").asText()) > 0);

                Pushed moved = new TestImages(upstream.url(), 42).pushImage("team/warm", "v1", Format.OCI, 1, 16 * 1024);
                Await.until(() -> moved.digest().toString().equals(warm(proxy).get("outcomes").get(0).get("digest").asText()),
                        Duration.ofSeconds(30), "the moved tag fetched");
                assertEquals(2, upstream.requests("GET", manifestPath));
                upstream.stop();

                // Once the tag is past its TTL the proxy asks the (stopped) upstream, fails, and serves the
                // cache with a Warning: the outage path, not a fresh tag.
                AtomicReference<HttpResponse<byte[]>> served = new AtomicReference<>();
                Await.until(() -> {
                    served.set(RegistryHttp.manifest(proxy.url(), "team/warm", "v1"));
                    return served.get().headers().firstValue("Warning").isPresent();
                }, Duration.ofSeconds(60), "the tag served stale, past its TTL");
                assertEquals(200, served.get().statusCode());
                assertTrue(served.get().headers().firstValue("Warning").get().startsWith("299 - "), served.get().headers().toString());
                assertArrayEquals(moved.bytes(), served.get().body(), "the moved tag, from the cache while the upstream is gone");
                for (Digest blob : moved.blobs()) {
                    assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/team/warm/blobs/" + blob).statusCode());
                }
            }
        }
    }

    @Test
    void listedImageWithALayerEvicted_fetchedAgainThoughTheTagDidNotMove() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"))) {
            TestImages images = new TestImages(upstream.url(), 43);
            Pushed warm = images.pushImage("team/warm", "v1", Format.OCI, 2, 32 * 1024);
            Pushed other = images.pushImage("team/other", "v1", Format.OCI, 2, 48 * 1024);
            String manifestPath = "/v2/team/warm/manifests/v1";
            // Room for one of the two images, not both.
            try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "storage:\n  maxSize: 128KiB\n"
                    + "warm:\n  interval: 1s\n  images: [\"team/warm:v1\"]\n"
                    + "upstreams:\n  - name: docker.io\n    url: " + upstream.url() + "\n    default: true\n")) {
                Await.until(() -> warm(proxy).get("runs").asLong() >= 1, Duration.ofSeconds(30), "the first keep-warm run");
                assertEquals(1, upstream.requests("GET", manifestPath));

                assertEquals(200, RegistryHttp.manifest(proxy.url(), "team/other", "v1").statusCode());
                for (Digest blob : other.blobs()) {
                    assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/team/other/blobs/" + blob).statusCode());
                }

                Await.until(() -> upstream.requests("GET", manifestPath) >= 2, Duration.ofSeconds(60),
                        "the kept-warm image, its layers evicted, fetched again");
                // Its layers came back too (issue 29): some were downloaded twice, and now every one is
                // served from the cache, with no GET upstream.
                Await.until(() -> blobGets(upstream, warm) > warm.blobs().size(), Duration.ofSeconds(60),
                        "the evicted layers downloaded again");
                long runsThen = warm(proxy).get("runs").asLong();
                Await.until(() -> warm(proxy).get("runs").asLong() >= runsThen + 2
                                && warm(proxy).get("outcomes").get(0).get("result").asText().equals("unchanged"),
                        Duration.ofSeconds(60), "a keep-warm run, begun after the fetch, that finds the image whole");
                long before = blobGets(upstream, warm);
                for (Digest blob : warm.blobs()) {
                    assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/team/warm/blobs/" + blob).statusCode());
                }
                assertEquals(before, blobGets(upstream, warm), "every layer of the kept-warm image was in the cache");
            }
        }
    }

    private static long blobGets(ReferenceRegistry upstream, Pushed image) {
        return image.blobs().stream().mapToLong(blob -> upstream.requests("GET", "/v2/" + image.repository() + "/blobs/" + blob)).sum();
    }

    @Test
    void unparseableImage_stopsTheStartNamingTheKey() {
        AssertionError refused = org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class, () ->
                ProxyUnderTest.start(temp.resolve("proxy"), "warm:\n  images: [\"team/app:v1\", \"Bad Name\"]\n"));
        assertTrue(refused.getMessage().contains("warm.images[1]"), refused.getMessage());
    }
}
