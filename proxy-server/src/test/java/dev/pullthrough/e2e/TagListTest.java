package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** tags/list with n and last, through the proxy, against the real registry's pagination. */
class TagListTest {
    @TempDir
    Path temp;

    @Test
    void tagsList_paginationPassedThroughAndLinkRewrittenForPrefix() {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"),
                     "upstreams:\n  - name: hub\n    url: https://registry-1.docker.io\n    default: true\n"
                             + "  - name: local.test\n    url: " + upstream.url() + "\n")) {
            TestImages images = new TestImages(upstream.url(), 31);
            Pushed image = images.pushImage("org/app", "a", Format.OCI, 1, 1024);
            for (String tag : new String[] {"b", "c", "d"}) {
                images.pushManifest("org/app", tag, image.mediaType(), image.bytes(), image.blobs());
            }

            HttpResponse<byte[]> direct = RegistryHttp.get(upstream.url(), "/v2/org/app/tags/list?n=2&last=a");
            HttpResponse<byte[]> viaProxy = RegistryHttp.get(proxy.url(), "/v2/local.test/org/app/tags/list?n=2&last=a");

            assertEquals(200, viaProxy.statusCode());
            assertEquals(new String(direct.body(), StandardCharsets.UTF_8), new String(viaProxy.body(), StandardCharsets.UTF_8));
            // distribution 2.8 ignores n and last here (it answers every tag, unordered, without a Link):
            // the proxy passes that through rather than paginating on its own.
            assertEquals(direct.headers().firstValue("Link").isPresent(), viaProxy.headers().firstValue("Link").isPresent());
        }
    }

    @Test
    void tagsList_linkHeaderRewrittenToClientName() {
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"),
                     "upstreams:\n  - name: hub\n    url: https://registry-1.docker.io\n    default: true\n"
                             + "  - name: paged.test\n    url: " + upstream.url() + "\n")) {
            upstream.route("GET /v2/org/app/tags/list", FaultyUpstream.fixed(200, "application/json",
                    "{\"name\":\"org/app\",\"tags\":[\"b\",\"c\"]}".getBytes(StandardCharsets.UTF_8),
                    java.util.Map.of("Link", "</v2/org/app/tags/list?last=c&n=2>; rel=\"next\"")));

            HttpResponse<byte[]> viaProxy = RegistryHttp.get(proxy.url(), "/v2/paged.test/org/app/tags/list?n=2&last=a");

            assertEquals(200, viaProxy.statusCode());
            assertEquals("</v2/paged.test/org/app/tags/list?last=c&n=2>; rel=\"next\"", viaProxy.headers().firstValue("Link").orElseThrow());
        }
    }
}
