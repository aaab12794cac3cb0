package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A digest cached for one repository is not handed out under another repository that the upstream
 * does not say holds it: a private repository's layers and manifests must not leak through the
 * shared cache. Where the upstream does hold it, the cache serves it after one free HEAD.
 */
class RepositoryIsolationTest {
    @TempDir
    Path temp;

    @Test
    void cachedDigest_otherRepository_servedOnlyWhereUpstreamHoldsIt() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstream.url())) {
            TestImages images = new TestImages(upstream.url(), 101);
            Pushed image = images.pushImage("private/app", "v1", Format.OCI, 1, 50_000);
            Digest layer = image.blobs().get(1);
            // The same layer and manifest also live in a second repository; a third has neither.
            images.pushBlob("shared/app", RegistryHttp.get(upstream.url(), "/v2/private/app/blobs/" + layer).body());
            images.pushBlob("shared/app", RegistryHttp.get(upstream.url(), "/v2/private/app/blobs/" + image.blobs().get(0)).body());
            images.pushManifest("shared/app", "v1", image.mediaType(), image.bytes(), image.blobs());

            assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/private/app/blobs/" + layer).statusCode());
            assertEquals(200, RegistryHttp.manifest(proxy.url(), "private/app", image.digest().toString()).statusCode());

            assertEquals(404, RegistryHttp.get(proxy.url(), "/v2/other/app/blobs/" + layer).statusCode(),
                    "not in other/app upstream: the cached layer is not handed out");
            assertEquals(404, RegistryHttp.manifest(proxy.url(), "other/app", image.digest().toString()).statusCode());
            assertEquals(0, upstream.requests("GET", "/v2/other/app/blobs/" + layer));

            HttpResponse<byte[]> shared = RegistryHttp.get(proxy.url(), "/v2/shared/app/blobs/" + layer);
            assertEquals(200, shared.statusCode());
            assertEquals(layer, Digest.sha256Of(shared.body()));
            assertEquals(1, upstream.requests("HEAD", "/v2/shared/app/blobs/" + layer), "one HEAD to check");
            assertEquals(0, upstream.requests("GET", "/v2/shared/app/blobs/" + layer), "the bytes came from the cache");
            assertArrayEquals(image.bytes(), RegistryHttp.manifest(proxy.url(), "shared/app", image.digest().toString()).body());

            RegistryHttp.get(proxy.url(), "/v2/shared/app/blobs/" + layer);
            assertEquals(1, upstream.requests("HEAD", "/v2/shared/app/blobs/" + layer), "checked once, then remembered");
        }
    }
}
