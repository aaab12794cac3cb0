package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page in a real browser (headless Chromium): after a cold and a warm pull it shows the
 * hit ratios and byte counts that {@code /status.json} reports, a download in flight with its
 * progress, and an upstream error; no script fails. Its screenshot is kept in target/.
 */
class StatusPageTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path temp;

    @Test
    void coldThenWarmPull_andASlowDownload_shownInTheBrowser() throws Exception {
        byte[] slowBlob = new byte[2 << 20];
        new Random(7).nextBytes(slowBlob);
        Digest slowDigest = Digest.sha256Of(slowBlob);
        // The slow blob is held after its first 64 KiB until the browser is done: the download is in flight
        // while Chromium looks, however slow the machine (issue 29: a 12.8 s trickle raced it).
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        try (ReferenceRegistry registry = ReferenceRegistry.start(temp.resolve("upstream"));
             FaultyUpstream slow = new FaultyUpstream()
                     .route("GET /v2/team/slow/blobs/" + slowDigest, FaultyUpstream.held(slowBlob, 64 * 1024, release))
                     .route("GET /v2/team/slow/manifests/broken", FaultyUpstream.fixed(503, "application/json", "{}".getBytes(), Map.of()));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                     + "  - name: docker.io\n    url: " + registry.url() + "\n    default: true\n"
                     + "  - name: slow\n    url: " + slow.url() + "\n");
             // Closed first: a failed assertion does not leave the held body waiting.
             AutoCloseable releaseAtEnd = release::countDown) {
            Pushed image = new TestImages(registry.url(), 71).pushImage("team/app", "v1", Format.OCI, 2, 64 * 1024);
            long imageBytes = image.bytes().length;
            for (int pull = 0; pull < 2; pull++) { // cold, then warm
                assertEquals(200, RegistryHttp.manifest(proxy.url(), "team/app", "v1").statusCode());
                for (Digest blob : image.blobs()) {
                    HttpResponse<byte[]> served = RegistryHttp.get(proxy.url(), "/v2/team/app/blobs/" + blob);
                    assertEquals(200, served.statusCode());
                    imageBytes += pull == 0 ? served.body().length : 0;
                }
            }
            int broken = RegistryHttp.manifest(proxy.url(), "slow/team/slow", "broken").statusCode();
            assertTrue(broken >= 500, "an upstream 503 with nothing cached: " + broken);
            CompletableFuture<byte[]> slowClient = CompletableFuture.supplyAsync(() ->
                    RegistryHttp.get(proxy.url(), "/v2/slow/team/slow/blobs/" + slowDigest).body());
            Await.until(() -> status(proxy).get("downloads").size() == 1 && status(proxy).get("downloads").get(0).get("bytes").asLong() > 0,
                    Duration.ofSeconds(60), "the slow download shows in status.json");

            JsonNode status = status(proxy);
            // Manifests: the cold pull and the broken tag missed, the warm pull hit. Blobs: the image's
            // missed, then hit; the slow one missed.
            int blobs = image.blobs().size();
            assertEquals(1, status.get("hitRatio").get("manifest").get("hits").asLong());
            assertEquals(2, status.get("hitRatio").get("manifest").get("misses").asLong());
            assertEquals(blobs, status.get("hitRatio").get("blob").get("hits").asLong());
            assertEquals(blobs + 1, status.get("hitRatio").get("blob").get("misses").asLong(), status.toString());
            assertEquals(imageBytes, status.get("servedBytes").get("cache").asLong(), "the warm pull, all from the cache");
            assertEquals(imageBytes, status.get("servedBytes").get("upstream").asLong(), "the cold pull, all from upstream");
            JsonNode hub = status.get("upstreams").get(0);
            assertEquals(1, hub.get("manifestGets").asLong());
            assertEquals(1, hub.get("pullsSaved").asLong());
            JsonNode download = status.get("downloads").get(0);
            assertEquals(slowDigest.toString(), download.get("digest").asText());
            assertEquals(slowBlob.length, download.get("size").asLong());
            assertEquals(1, download.get("clients").asLong());
            assertTrue(status.get("recentErrors").get(0).get("what").asText().contains("HTTP 503"), status.toString());

            Processes.Result page = Chromium.dumpDom(proxy.url() + "/", temp.resolve("chromium"), 5000);
            String dom = page.output();
            assertFalse(dom.contains("Uncaught"), "a script error: " + dom);
            // The empty span is in the static page too; what shows a refresh is the count the page keeps
            // of those that succeeded (issue 29).
            assertTrue(java.util.regex.Pattern.compile("<body data-refreshes=\"[1-9]").matcher(dom).find(), "status.json refreshes: " + dom);
            assertTrue(dom.contains("<span id=\"stale\"></span>"), "and none failed since: " + dom);
            assertTrue(dom.contains("<span id=\"manifest-ratio\" class=\"big\">33.3%</span>"), dom);
            assertTrue(dom.contains("1 hit, 2 misses"), dom);
            String blobRatio = String.format(Locale.ROOT, "%.1f%%", 100.0 * blobs / (2 * blobs + 1));
            assertTrue(dom.contains("<span id=\"blob-ratio\" class=\"big\">" + blobRatio + "</span>"), dom);
            assertTrue(dom.contains(">" + human(imageBytes) + "</span>"), "bytes from cache and upstream: " + dom);
            assertTrue(dom.contains(slowDigest.toString().substring(0, 19)), "the download's row: " + dom);
            assertTrue(dom.contains("<progress max=\"" + slowBlob.length + "\" value=\""), "a progress bar: " + dom);
            assertTrue(dom.contains("HTTP 503"), "the upstream error: " + dom);
            assertTrue(dom.contains("team/app:v1"), "the most pulled image: " + dom);

            Path screenshot = Path.of("target", "status-page.png").toAbsolutePath();
            Files.createDirectories(screenshot.getParent());
            Files.deleteIfExists(screenshot);
            Chromium.screenshot(proxy.url() + "/", temp.resolve("chromium"), screenshot);
            byte[] png = Files.readAllBytes(screenshot);
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));

            release.countDown();
            assertArrayEquals(slowBlob, slowClient.get(60, java.util.concurrent.TimeUnit.SECONDS));
        }
    }

    private static JsonNode status(ProxyUnderTest proxy) {
        try {
            return JSON.readTree(RegistryHttp.get(proxy.url(), "/status.json").body());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** As the page writes sizes. */
    private static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB"};
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return unit == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }
}
