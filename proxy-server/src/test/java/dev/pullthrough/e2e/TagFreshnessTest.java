package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tag that moves upstream: old within the TTL, new after it; a revalidation that finds nothing
 * changed costs one HEAD and no GET, as the real registry's access log shows.
 */
class TagFreshnessTest {
    private static final String PATH = "/v2/fresh/app/manifests/moving";

    @TempDir
    Path temp;

    @Test
    void get_tagMovedUpstream_servesOldWithinTtlAndNewAfter() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"),
                     "upstreams:\n  - name: docker.io\n    url: " + upstream.url() + "\n    tagTtl: 1500ms\n")) {
            TestImages images = new TestImages(upstream.url(), 21);
            Pushed first = images.pushImage("fresh/app", "moving", Format.OCI, 1, 2048);

            assertEquals(first.digest().toString(), digestVia(proxy));
            assertEquals(1, upstream.requests("GET", PATH));

            Pushed second = images.pushImage("fresh/app", "moving", Format.OCI, 1, 2048);
            assertNotEquals(first.digest(), second.digest());
            assertEquals(first.digest().toString(), digestVia(proxy), "within the TTL the cached tag is served");
            assertEquals(1, upstream.requests("GET", PATH), "no upstream request within the TTL");
            assertEquals(0, upstream.requests("HEAD", PATH));

            // Pulls within the TTL are answered from the cache; the first one after it sees the move.
            Await.until(() -> digestVia(proxy).equals(second.digest().toString()), Duration.ofSeconds(10),
                    "after the TTL the moved tag is seen");
            assertEquals(1, upstream.requests("HEAD", PATH), "revalidated with HEAD first");
            assertEquals(2, upstream.requests("GET", PATH), "GET only because the digest moved");

            Await.until(() -> digestVia(proxy).equals(second.digest().toString()) && upstream.requests("HEAD", PATH) == 2,
                    Duration.ofSeconds(10), "a warm pull after the TTL revalidates");
            assertEquals(2, upstream.requests("HEAD", PATH), "a warm pull after the TTL costs one HEAD");
            assertEquals(2, upstream.requests("GET", PATH), "and no GET when nothing changed");
        }
    }

    @Test
    void get_upstreamDownAfterTtl_servesStaleWithWarning() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"),
                     "upstreams:\n  - name: docker.io\n    url: " + upstream.url() + "\n    tagTtl: 500ms\n    maxStale: 1h\n")) {
            Pushed image = new TestImages(upstream.url(), 22).pushImage("fresh/app", "moving", Format.DOCKER, 1, 2048);
            assertEquals(image.digest().toString(), digestVia(proxy));
            upstream.stop();
            // Within the TTL the answer is fresh; after it the revalidation fails and the cached one is stale.
            Await.until(() -> RegistryHttp.manifest(proxy.url(), "fresh/app", "moving").headers().firstValue("Warning").isPresent(),
                    Duration.ofSeconds(10), "past the TTL the answer says it is stale");

            HttpResponse<byte[]> stale = RegistryHttp.manifest(proxy.url(), "fresh/app", "moving");
            assertEquals(200, stale.statusCode());
            assertEquals(image.digest().toString(), stale.headers().firstValue("Docker-Content-Digest").orElseThrow());
            assertTrue(stale.headers().firstValue("Warning").orElse("").startsWith("299 - "), "a Warning says it is stale");
        }
    }

    private static String digestVia(ProxyUnderTest proxy) {
        HttpResponse<byte[]> response = RegistryHttp.manifest(proxy.url(), "fresh/app", "moving");
        assertEquals(200, response.statusCode());
        return response.headers().firstValue("Docker-Content-Digest").orElseThrow();
    }
}
