package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the proxy answers from its cache alone about what it holds: {@code /v2/_catalog} (as the
 * reference registry's proxy mode does), and a referrers 404 remembered for the tag TTL.
 */
class CatalogTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path temp;

    @Test
    void catalog_listsPulledRepositoriesWithPagesAndNoUpstreamRequest() throws Exception {
        try (ReferenceRegistry hub = ReferenceRegistry.start(temp.resolve("hub"));
             ReferenceRegistry second = ReferenceRegistry.start(temp.resolve("second"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                     + "  - name: docker.io\n    url: " + hub.url() + "\n    default: true\n"
                     + "  - name: second.test\n    url: " + second.url() + "\n")) {
            Pushed app = new TestImages(hub.url(), 41).pushImage("library/app", "v1", Format.OCI, 1, 1024);
            Pushed tool = new TestImages(hub.url(), 42).pushImage("team/tool", "v1", Format.DOCKER, 1, 1024);
            Pushed other = new TestImages(second.url(), 43).pushIndex("org/other", "v1", Format.OCI, 1, 1024);
            new TestImages(hub.url(), 44).pushImage("never/pulled", "v1", Format.OCI, 1, 1024);
            assertEquals(200, RegistryHttp.manifest(proxy.url(), app.repository(), "v1").statusCode());
            assertEquals(200, RegistryHttp.manifest(proxy.url(), tool.repository(), "v1").statusCode());
            assertEquals(200, RegistryHttp.manifest(proxy.url(), "second.test/" + other.repository(), "v1").statusCode());
            long upstreamBefore = proxy.upstreamRequests("manifest", "GET") + proxy.upstreamRequests("manifest", "HEAD");

            HttpResponse<byte[]> all = RegistryHttp.get(proxy.url(), "/v2/_catalog");
            assertEquals(200, all.statusCode());
            assertEquals("application/json", all.headers().firstValue("Content-Type").orElseThrow());
            assertEquals(List.of("library/app", "second.test/org/other", "team/tool"), repositories(all));
            assertTrue(all.headers().firstValue("Link").isEmpty(), "one page holds them all");

            HttpResponse<byte[]> first = RegistryHttp.get(proxy.url(), "/v2/_catalog?n=2");
            assertEquals(List.of("library/app", "second.test/org/other"), repositories(first));
            String link = first.headers().firstValue("Link").orElseThrow();
            assertEquals("</v2/_catalog?last=second.test%2Forg%2Fother&n=2>; rel=\"next\"", link);
            HttpResponse<byte[]> next = RegistryHttp.get(proxy.url(), link.substring(1, link.indexOf('>')));
            assertEquals(List.of("team/tool"), repositories(next));
            assertTrue(next.headers().firstValue("Link").isEmpty(), "the last page has no next");

            assertEquals(upstreamBefore, proxy.upstreamRequests("manifest", "GET") + proxy.upstreamRequests("manifest", "HEAD"),
                    "the catalog is answered from the cache alone");
            assertEquals(0, hub.requests("GET", "/v2/_catalog") + second.requests("GET", "/v2/_catalog"));
        }
    }

    @Test
    void referrers_upstreamWithoutReferrersApi_404WithOciBodyRememberedForTtl() {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstream.url())) {
            Pushed image = new TestImages(upstream.url(), 45).pushImage("org/app", "v1", Format.OCI, 1, 1024);
            String path = "/v2/org/app/referrers/" + image.digest();

            for (int i = 0; i < 3; i++) {
                HttpResponse<byte[]> response = RegistryHttp.get(proxy.url(), path);
                assertEquals(404, response.statusCode());
                assertEquals("application/json", response.headers().firstValue("Content-Type").orElseThrow());
                assertTrue(new String(response.body(), StandardCharsets.UTF_8).startsWith("{\"errors\":[{\"code\":"),
                        new String(response.body(), StandardCharsets.UTF_8));
            }
            assertEquals(1, upstream.requests("GET", path), "the 404 is kept for the tag TTL");
        }
    }

    private static List<String> repositories(HttpResponse<byte[]> response) throws Exception {
        JsonNode body = JSON.readTree(response.body());
        List<String> names = new ArrayList<>();
        body.path("repositories").forEach(n -> names.add(n.asText()));
        return names;
    }
}
