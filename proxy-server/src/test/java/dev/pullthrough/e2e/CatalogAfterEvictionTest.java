package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /v2/_catalog} lists a repository only while something of it is cached (issue 29): one whose
 * manifests and blobs were all evicted or purged drops out, though the proxy still knows what the
 * upstream holds in it; one purged in part stays.
 */
class CatalogAfterEvictionTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path temp;

    // ---- eviction

    @Test
    void catalog_repositoryWhollyEvicted_notListedUntilPulledAgain() throws Exception {
        try (ReferenceRegistry hub = ReferenceRegistry.start(temp.resolve("hub"));
             // 1 MiB: the old image (~300 KiB) and the new one (~800 KiB) do not fit together, and each
             // layer is under half the bound, so every one is cached.
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "storage:\n  maxSize: 1MiB\nupstreams:\n"
                     + "  - name: docker.io\n    url: " + hub.url() + "\n    default: true\n")) {
            Pushed old = new TestImages(hub.url(), 91).pushImage("team/old", "v1", Format.OCI, 1, 300 * 1024);
            Pushed fresh = new TestImages(hub.url(), 92).pushImage("team/new", "v1", Format.OCI, 2, 400 * 1024);
            long oldBytes = pull(proxy, old);
            assertEquals(List.of("team/old"), catalog(proxy));

            pull(proxy, fresh);
            // Least recently used first: everything of the old image goes before anything of the new one.
            Await.until(() -> proxy.metrics().sum("pullthrough_evicted_bytes") >= oldBytes, Duration.ofSeconds(60),
                    "the old image evicted wholly (" + oldBytes + " bytes)");

            assertEquals(List.of("team/new"), catalog(proxy), "nothing of team/old is cached any more");

            pull(proxy, old);
            assertEquals(List.of("team/new", "team/old"), catalog(proxy), "pulled again, listed again");
        }
    }

    // ---- purge

    @Test
    void catalog_partPurged_staysListed_wholePurged_notListed() throws Exception {
        try (ReferenceRegistry hub = ReferenceRegistry.start(temp.resolve("hub"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), hub.url())) {
            Pushed appV1 = new TestImages(hub.url(), 93).pushImage("team/app", "v1", Format.OCI, 1, 1024);
            Pushed appV2 = new TestImages(hub.url(), 94).pushImage("team/app", "v2", Format.OCI, 1, 1024);
            Pushed other = new TestImages(hub.url(), 95).pushImage("team/other", "v1", Format.DOCKER, 1, 1024);
            pull(proxy, appV1);
            pull(proxy, appV2);
            pull(proxy, other);
            assertEquals(List.of("team/app", "team/other"), catalog(proxy));

            assertEquals(200, purge(proxy, "team/app:v1").statusCode());
            assertEquals(List.of("team/app", "team/other"), catalog(proxy), "team/app:v2 is still cached");

            assertEquals(200, purge(proxy, "team/app").statusCode());
            assertEquals(List.of("team/other"), catalog(proxy), "all of team/app purged");

            assertEquals(200, purge(proxy, "team/other:v1").statusCode());
            assertEquals(List.of(), catalog(proxy), "its only tag purged, nothing of team/other is left");
        }
    }

    /** Pulls the image's manifest and blobs through the proxy; returns the bytes the cache took. */
    private static long pull(ProxyUnderTest proxy, Pushed image) {
        HttpResponse<byte[]> manifest = RegistryHttp.manifest(proxy.url(), image.repository(), image.tag());
        assertEquals(200, manifest.statusCode());
        long bytes = manifest.body().length;
        for (Digest blob : image.blobs()) {
            HttpResponse<byte[]> served = RegistryHttp.get(proxy.url(), "/v2/" + image.repository() + "/blobs/" + blob);
            assertEquals(200, served.statusCode());
            bytes += served.body().length;
        }
        return bytes;
    }

    private static HttpResponse<byte[]> purge(ProxyUnderTest proxy, String image) {
        return RegistryHttp.method(proxy.url(), "DELETE", "/cache/images?image=" + image);
    }

    private static List<String> catalog(ProxyUnderTest proxy) throws Exception {
        HttpResponse<byte[]> response = RegistryHttp.get(proxy.url(), "/v2/_catalog");
        assertEquals(200, response.statusCode());
        JsonNode body = JSON.readTree(response.body());
        List<String> names = new ArrayList<>();
        body.path("repositories").forEach(n -> names.add(n.asText()));
        return names;
    }
}
