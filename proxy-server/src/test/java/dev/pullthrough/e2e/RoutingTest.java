package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real upstream registries at once, reached by containerd's {@code ns=}, by path prefix and by
 * default; a host nobody configured is refused without a connection; the real skopeo uses the
 * proxy as a mirror through registries.conf.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RoutingTest {
    @TempDir
    static Path temp;

    private ReferenceRegistry hub;
    private ReferenceRegistry second;
    private FaultyUpstream stranger;
    private ProxyUnderTest proxy;
    private Pushed hubImage;
    private Pushed secondImage;

    @BeforeAll
    void start() {
        hub = ReferenceRegistry.start(temp.resolve("hub"));
        second = ReferenceRegistry.start(temp.resolve("second"));
        stranger = new FaultyUpstream();
        hubImage = new TestImages(hub.url(), 51).pushImage("library/hubapp", "v1", Format.DOCKER, 1, 4096);
        secondImage = new TestImages(second.url(), 52).pushImage("team/app", "v1", Format.OCI, 1, 4096);
        new TestImages(second.url(), 53).pushImage("other/app", "v1", Format.OCI, 1, 1024);
        proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                + "  - name: docker.io\n    url: " + hub.url() + "\n    default: true\n"
                + "  - name: second.test\n    url: " + second.url() + "\n    allow: [\"team/*\"]\n");
    }

    @AfterAll
    void stop() {
        proxy.close();
        stranger.close();
        hub.close();
        second.close();
    }

    private static String digestOf(HttpResponse<byte[]> response) {
        assertEquals(200, response.statusCode(), () -> new String(response.body(), StandardCharsets.UTF_8));
        return response.headers().firstValue("Docker-Content-Digest").orElseThrow();
    }

    @Test
    void route_default_dockerHubNamingApplies() {
        assertEquals(hubImage.digest().toString(), digestOf(RegistryHttp.manifest(proxy.url(), "hubapp", "v1")));
        assertEquals(hubImage.digest().toString(), digestOf(RegistryHttp.manifest(proxy.url(), "library/hubapp", "v1")));
    }

    @Test
    void route_pathPrefix_reachesNamedUpstream() {
        assertEquals(secondImage.digest().toString(), digestOf(RegistryHttp.manifest(proxy.url(), "second.test/team/app", "v1")));
        HttpResponse<byte[]> layer = RegistryHttp.get(proxy.url(), "/v2/second.test/team/app/blobs/" + secondImage.blobs().get(1));
        assertEquals(200, layer.statusCode());
        assertEquals(secondImage.blobs().get(1), dev.pullthrough.oci.Digest.sha256Of(layer.body()));
    }

    @Test
    void route_namespaceParameter_byNameOrHostAndEchoed() {
        HttpResponse<byte[]> byName = RegistryHttp.get(proxy.url(), "/v2/team/app/manifests/v1?ns=second.test",
                "Accept", String.join(",", RegistryHttp.ALL_MANIFEST_TYPES));
        assertEquals(secondImage.digest().toString(), digestOf(byName));
        assertEquals("second.test", byName.headers().firstValue("OCI-Namespace").orElseThrow());

        HttpResponse<byte[]> byHost = RegistryHttp.get(proxy.url(), "/v2/team/app/manifests/v1?ns=" + second.hostPort(),
                "Accept", String.join(",", RegistryHttp.ALL_MANIFEST_TYPES));
        assertEquals(secondImage.digest().toString(), digestOf(byHost));

        HttpResponse<byte[]> hubByNs = RegistryHttp.get(proxy.url(), "/v2/library/hubapp/manifests/v1?ns=docker.io",
                "Accept", String.join(",", RegistryHttp.ALL_MANIFEST_TYPES));
        assertEquals(hubImage.digest().toString(), digestOf(hubByNs));
        assertEquals("docker.io", hubByNs.headers().firstValue("OCI-Namespace").orElseThrow());
    }

    @Test
    void route_unconfiguredHost_refusedWithoutConnecting() {
        HttpResponse<byte[]> refused = RegistryHttp.get(proxy.url(), "/v2/team/app/manifests/v1?ns=" + stranger.url().getAuthority());
        assertEquals(404, refused.statusCode());
        assertTrue(new String(refused.body(), StandardCharsets.UTF_8).contains("\"code\":\"NAME_UNKNOWN\""));
        HttpResponse<byte[]> blob = RegistryHttp.get(proxy.url(), "/v2/team/app/blobs/" + secondImage.blobs().get(0)
                + "?ns=" + stranger.url().getAuthority());
        assertEquals(404, blob.statusCode());
        assertEquals(0, stranger.count("GET /v2/"), "no connection to a host nobody configured");
        assertEquals(0, stranger.count("GET /v2/team/app/manifests/v1"));
    }

    @Test
    void route_unconfiguredHostAsPathPrefix_nameUnknownWithoutAnyUpstreamRequest() {
        long upstreamBefore = proxy.upstreamRequests("manifest", "GET") + proxy.upstreamRequests("manifest", "HEAD");
        HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "evil.example/team/app", "v1");
        assertEquals(404, refused.statusCode());
        String body = new String(refused.body(), StandardCharsets.UTF_8);
        assertTrue(body.contains("\"code\":\"NAME_UNKNOWN\"") && body.contains("'evil.example'"), body);
        assertEquals(404, RegistryHttp.get(proxy.url(), "/v2/localhost/team/app/tags/list").statusCode());
        assertEquals(upstreamBefore, proxy.upstreamRequests("manifest", "GET") + proxy.upstreamRequests("manifest", "HEAD"),
                "not sent to the default upstream as repository evil.example/team/app");
    }

    @Test
    void route_repositoryOutsideAllowList_403() {
        HttpResponse<byte[]> denied = RegistryHttp.manifest(proxy.url(), "second.test/other/app", "v1");
        assertEquals(403, denied.statusCode());
        assertTrue(new String(denied.body(), StandardCharsets.UTF_8).contains("\"code\":\"DENIED\""));
    }

    @Test
    void skopeo_registriesConfMirror_pullsThroughProxy() throws Exception {
        // containers/image's own mirror code path: the registry name does not even resolve, so only
        // the mirror (this proxy, with the upstream's path prefix) can answer.
        Path conf = temp.resolve("registries.conf");
        Files.writeString(conf, String.join("\n",
                "[[registry]]",
                "location = \"second.invalid\"",
                "",
                "[[registry.mirror]]",
                "location = \"" + proxy.hostPort() + "/second.test\"",
                "insecure = true",
                ""));
        Path out = temp.resolve("mirror-copy");
        Processes.runOk(120, Skopeo.BINARY, "--insecure-policy", "--registries-conf", conf.toString(), "copy", "--retry-times", "0",
                "docker://second.invalid/team/app:v1", "dir:" + out);
        assertEquals(secondImage.digest(), dev.pullthrough.oci.Digest.sha256Of(Files.readAllBytes(out.resolve("manifest.json"))));
        assertFalse(List.of(Files.list(out).toArray()).isEmpty());
    }
}
