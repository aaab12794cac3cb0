package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Warming the cache (prefetch, command and admin endpoint) and moving it to an air-gapped site (export, import). */
class WarmingTest {
    @TempDir
    Path temp;

    @Test
    void prefetchThenUpstreamGone_copyAllServedFromCache_andExportImportServesOffline() throws Exception {
        Path data = temp.resolve("proxy");
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ReferenceRegistry destination = ReferenceRegistry.start(temp.resolve("destination"))) {
            Pushed index = new TestImages(upstream.url(), 91).pushIndex("team/multi", "v1", Format.OCI, 2, 32 * 1024);

            Processes.Result prefetch = ProxyProcess.command(data, upstream.url(), temp.resolve("prefetch.log"),
                    "prefetch", "team/multi:v1");
            assertEquals(0, prefetch.exitCode(), prefetch.output());
            assertTrue(prefetch.output().contains("prefetched docker.io/team/multi:v1 (" + index.digest() + "): 3 manifests, 6 blobs"),
                    prefetch.output());
            upstream.stop();

            try (ProxyUnderTest proxy = ProxyUnderTest.start(data, upstream.url())) {
                Skopeo.copyAll(proxy.hostPort() + "/team/multi:v1", destination.hostPort() + "/prefetched/team/multi:v1");
                HttpResponse<byte[]> copied = RegistryHttp.manifest(destination.url(), "prefetched/team/multi", "v1");
                assertArrayEquals(index.bytes(), copied.body(), "every platform came from the cache");

                Processes.Result busy = ProxyProcess.command(data, upstream.url(), temp.resolve("busy.log"), "export",
                        "--output", temp.resolve("busy.tar").toString(), "team/multi:v1");
                assertEquals(3, busy.exitCode(), busy.output());
                assertTrue(busy.output().contains("is in use by a running pullthrough"), busy.output());
            }

            Path tar = temp.resolve("multi.tar");
            Processes.Result export = ProxyProcess.command(data, upstream.url(), temp.resolve("export.log"),
                    "export", "--output", tar.toString(), "team/multi:v1");
            assertEquals(0, export.exitCode(), export.output());
            Path airGapped = temp.resolve("air-gapped");
            Processes.Result imported = ProxyProcess.command(airGapped, upstream.url(), temp.resolve("import.log"),
                    "import", tar.toString());
            assertEquals(0, imported.exitCode(), imported.output());
            assertTrue(imported.output().contains("imported 1 image(s)"), imported.output());

            try (ProxyUnderTest offline = ProxyUnderTest.start(airGapped, "offline: true\nupstreams:\n  - name: docker.io\n    url: "
                    + upstream.url() + "\n")) {
                Skopeo.copyAll(offline.hostPort() + "/team/multi:v1", destination.hostPort() + "/imported/team/multi:v1");
                HttpResponse<byte[]> copied = RegistryHttp.manifest(destination.url(), "imported/team/multi", "v1");
                assertEquals(index.digest().toString(), copied.headers().firstValue("Docker-Content-Digest").orElseThrow());
                assertArrayEquals(index.bytes(), copied.body());
                assertEquals(0, (long) offline.metrics().sum("pullthrough_upstream_requests"));
            }
        }
    }

    @Test
    void prefetchAdminEndpoint_warmsRunningProxy() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstream.url())) {
            Pushed image = new TestImages(upstream.url(), 92).pushImage("warm/app", "v3", Format.DOCKER, 2, 16 * 1024);

            HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(proxy.url() + "/prefetch?image=warm/app:v3")).POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));

            assertEquals(200, response.statusCode(), response.body());
            assertTrue(response.body().contains("\"digest\":\"" + image.digest() + "\""), response.body());
            assertEquals(3, proxy.upstreamRequests("blob", "GET"));
            long before = proxy.upstreamRequests("blob", "GET") + proxy.upstreamRequests("manifest", "GET");
            RegistryHttp.manifest(proxy.url(), "warm/app", "v3");
            for (var blob : image.blobs()) {
                assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/warm/app/blobs/" + blob).statusCode());
            }
            assertEquals(before, proxy.upstreamRequests("blob", "GET") + proxy.upstreamRequests("manifest", "GET"),
                    "a pull after prefetch needs nothing from upstream");
            assertTrue(Files.isDirectory(temp.resolve("proxy").resolve("blobs")));
        }
    }
}
