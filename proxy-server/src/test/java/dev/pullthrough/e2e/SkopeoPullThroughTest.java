package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The real skopeo copies every common image kind from the real reference registry, through the
 * proxy, into a second empty registry, and the digests survive. Then the upstream goes away and
 * the same images still come from the cache.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SkopeoPullThroughTest {
    @TempDir
    static Path temp;

    private ReferenceRegistry upstream;
    private ReferenceRegistry destination;
    private ProxyUnderTest proxy;
    private final Map<String, Pushed> images = new LinkedHashMap<>();

    @BeforeAll
    void startRegistriesAndPushImages() {
        upstream = ReferenceRegistry.start(temp.resolve("upstream"));
        destination = ReferenceRegistry.start(temp.resolve("destination"));
        TestImages builder = new TestImages(upstream.url(), 42);
        images.put("docker", builder.pushImage("e2e/docker-image", "v1", Format.DOCKER, 2, 64 * 1024));
        images.put("oci", builder.pushImage("e2e/oci-image", "v1", Format.OCI, 2, 64 * 1024));
        images.put("docker-list", builder.pushIndex("e2e/team/docker-list", "v1", Format.DOCKER, 1, 32 * 1024));
        images.put("oci-index", builder.pushIndex("e2e/team/oci-index", "v1", Format.OCI, 1, 32 * 1024));
        proxy = ProxyUnderTest.start(temp.resolve("proxy-data"), upstream.url());
    }

    @AfterAll
    void stopAll() {
        if (proxy != null) {
            proxy.close();
        }
        if (upstream != null) {
            upstream.close();
        }
        if (destination != null) {
            destination.close();
        }
    }

    // ---------------------------------------------------------------- skopeo agrees with itself run directly

    @Order(0)
    @ParameterizedTest
    @ValueSource(strings = {"docker", "oci", "docker-list", "oci-index"})
    void inspect_throughProxy_agreesWithUpstream(String kind) throws Exception {
        Pushed image = images.get(kind);
        for (String mode : new String[] {"--raw", "--config"}) {
            String direct = Skopeo.inspect(mode, upstream.hostPort() + "/" + image.repository() + ":v1");
            String viaProxy = Skopeo.inspect(mode, proxy.hostPort() + "/" + image.repository() + ":v1");
            assertEquals(direct, viaProxy, "skopeo inspect " + mode + " of " + kind);
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode direct = (ObjectNode) json.readTree(Skopeo.inspect("", upstream.hostPort() + "/" + image.repository() + ":v1"));
        ObjectNode viaProxy = (ObjectNode) json.readTree(Skopeo.inspect("", proxy.hostPort() + "/" + image.repository() + ":v1"));
        direct.remove("Name");
        viaProxy.remove("Name");
        assertEquals(direct, viaProxy, "skopeo inspect of " + kind + " (apart from the registry's name)");
    }

    // ---------------------------------------------------------------- cold, then warm

    @Order(1)
    @ParameterizedTest
    @ValueSource(strings = {"docker", "oci", "docker-list", "oci-index"})
    void copyAll_eachImageKind_keepsUpstreamDigests(String kind) {
        Pushed image = images.get(kind);
        Skopeo.copyAll(proxy.hostPort() + "/" + image.repository() + ":v1",
                destination.hostPort() + "/copy/" + image.repository() + ":v1");

        HttpResponse<byte[]> copied = RegistryHttp.manifest(destination.url(), "copy/" + image.repository(), "v1");
        assertEquals(200, copied.statusCode());
        assertEquals(image.digest().toString(), copied.headers().firstValue("Docker-Content-Digest").orElseThrow());
        assertArrayEquals(image.bytes(), copied.body());
        assertEquals(image.mediaType(), copied.headers().firstValue("Content-Type").orElseThrow());
        for (Digest blob : image.blobs()) {
            HttpResponse<byte[]> head = RegistryHttp.head(destination.url(), "/v2/copy/" + image.repository() + "/blobs/" + blob);
            assertEquals(200, head.statusCode(), "blob " + blob + " of " + kind + " reached the destination");
        }
    }

    @Order(2)
    @Test
    void copyAll_secondPull_needsNoUpstreamManifestGetAndNoBlob() {
        long manifestGets = proxy.upstreamRequests("manifest", "GET");
        long blobGets = proxy.upstreamRequests("blob", "GET");
        assertTrue(manifestGets > 0, "the first pulls went upstream");
        for (Pushed image : images.values()) {
            Skopeo.copyAll(proxy.hostPort() + "/" + image.repository() + ":v1",
                    destination.hostPort() + "/again/" + image.repository() + ":v1");
        }
        assertEquals(manifestGets, proxy.upstreamRequests("manifest", "GET"), "manifest GETs sent upstream by warm pulls");
        assertEquals(blobGets, proxy.upstreamRequests("blob", "GET"), "blob GETs sent upstream by warm pulls");
    }

    // ---------------------------------------------------------------- upstream gone

    @Order(3)
    @Test
    void copyAll_upstreamStopped_pullsByDigestFromCache() {
        upstream.stop();
        for (Pushed image : images.values()) {
            Skopeo.copyAll(proxy.hostPort() + "/" + image.repository() + "@" + image.digest(),
                    destination.hostPort() + "/offline/" + image.repository() + ":v1");
            HttpResponse<byte[]> copied = RegistryHttp.manifest(destination.url(), "offline/" + image.repository(), "v1");
            assertEquals(image.digest().toString(), copied.headers().firstValue("Docker-Content-Digest").orElseThrow());
        }
    }
}
