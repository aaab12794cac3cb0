package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a real registry cannot be made to do, from our fault-injecting upstream. */
class UpstreamFaultsTest {
    private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    private static final byte[] GOOD = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}")
            .getBytes(StandardCharsets.UTF_8);
    private static final Digest GOOD_DIGEST = Digest.sha256Of(GOOD);

    @TempDir
    Path temp;

    private static byte[] corrupted() {
        byte[] bad = GOOD.clone();
        bad[bad.length - 3] = '!';
        return bad;
    }

    @Test
    void manifestByTag_bodyNotMatchingItsDigest_rejectedAndNotCached() {
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp, "upstreams:\n  - name: faulty\n    url: " + upstream.url() + "\n")) {
            upstream.route("GET /v2/bad/app/manifests/v1", FaultyUpstream.fixed(200, OCI_MANIFEST, corrupted(),
                    Map.of("Docker-Content-Digest", GOOD_DIGEST.toString())));

            for (int attempt = 1; attempt <= 2; attempt++) {
                HttpResponse<byte[]> response = RegistryHttp.manifest(proxy.url(), "bad/app", "v1");
                assertEquals(502, response.statusCode());
                String body = new String(response.body(), StandardCharsets.UTF_8);
                assertTrue(body.startsWith("{\"errors\":[{\"code\":"), body);
                assertFalse(body.contains("schemaVersion"), "the bad bytes never reach the client");
                assertEquals(attempt, upstream.count("GET /v2/bad/app/manifests/v1"), "nothing was cached");
            }
            assertEquals(404, RegistryHttp.manifest(proxy.url(), "bad/app", GOOD_DIGEST.toString()).statusCode(),
                    "the bad bytes were not stored under the digest either");
        }
    }

    @Test
    void manifestByDigest_wrongBytes_rejectedAndNotCached() {
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp, "upstreams:\n  - name: faulty\n    url: " + upstream.url() + "\n")) {
            String path = "/v2/bad/app/manifests/" + GOOD_DIGEST;
            upstream.route("GET " + path, FaultyUpstream.fixed(200, OCI_MANIFEST, corrupted(), Map.of()));

            assertEquals(502, RegistryHttp.manifest(proxy.url(), "bad/app", GOOD_DIGEST.toString()).statusCode());
            upstream.route("GET " + path, FaultyUpstream.fixed(200, OCI_MANIFEST, GOOD, Map.of()));
            HttpResponse<byte[]> good = RegistryHttp.manifest(proxy.url(), "bad/app", GOOD_DIGEST.toString());
            assertEquals(200, good.statusCode());
            assertEquals(GOOD_DIGEST, Digest.sha256Of(good.body()));
            assertEquals(2, upstream.count("GET " + path));
        }
    }

    @Test
    void referrers_passedThroughWithFilterAndCached() {
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp, "upstreams:\n  - name: faulty\n    url: " + upstream.url() + "\n")) {
            byte[] index = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}")
                    .getBytes(StandardCharsets.UTF_8);
            String path = "/v2/ref/app/referrers/" + GOOD_DIGEST;
            upstream.route("GET " + path, FaultyUpstream.fixed(200, "application/vnd.oci.image.index.v1+json", index,
                    Map.of("OCI-Filters-Applied", "artifactType")));

            for (int i = 0; i < 2; i++) {
                HttpResponse<byte[]> response = RegistryHttp.get(proxy.url(), path + "?artifactType=application%2Fvnd.example.sbom");
                assertEquals(200, response.statusCode());
                assertEquals("application/vnd.oci.image.index.v1+json", response.headers().firstValue("Content-Type").orElseThrow());
                assertEquals("artifactType", response.headers().firstValue("OCI-Filters-Applied").orElseThrow());
                assertEquals(new String(index, StandardCharsets.UTF_8), new String(response.body(), StandardCharsets.UTF_8));
            }
            assertEquals(1, upstream.count("GET " + path), "the second answer came from the cache");
        }
    }
}
