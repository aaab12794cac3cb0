package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A real containerd pulls {@code docker.io/...} and a second registry's images through the proxy
 * configured as a {@code host} in {@code hosts.toml}, as Kubernetes nodes do: it sends
 * {@code ?ns=<registry>}, HEAD then GET, and unpacks the layers.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ContainerdMirrorTest {
    private Path temp;
    private ReferenceRegistry hub;
    private ReferenceRegistry second;
    private ProxyUnderTest proxy;
    private Containerd containerd;
    private Path hostsDir;

    @BeforeAll
    void start() throws Exception {
        temp = Files.createTempDirectory(Path.of("/tmp"), "ptctd");
        hub = ReferenceRegistry.start(temp.resolve("hub"));
        second = ReferenceRegistry.start(temp.resolve("second"));
        proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                + "  - name: docker.io\n    url: " + hub.url() + "\n    default: true\n"
                + "  - name: second.example\n    url: " + second.url() + "\n");
        hostsDir = temp.resolve("certs.d");
        for (String[] registry : new String[][] {{"docker.io", "https://registry-1.docker.io"}, {"second.example", "https://second.example"}}) {
            Files.createDirectories(hostsDir.resolve(registry[0]));
            Files.writeString(hostsDir.resolve(registry[0]).resolve("hosts.toml"), String.join("\n",
                    "server = \"" + registry[1] + "\"",
                    "",
                    "[host.\"" + proxy.url() + "\"]",
                    "  capabilities = [\"pull\", \"resolve\"]",
                    ""));
        }
        containerd = Containerd.start(temp.resolve("c"));
    }

    @AfterAll
    void stop() {
        Processes.stopAll(temp, java.util.Arrays.asList(containerd, proxy, hub, second));
    }

    private void pullAndCheck(String reference, Pushed image) {
        // ctr pulls every platform and unpacks each into snapshots, as a node does before running it.
        String pulled = containerd.ctr(300, "images", "pull", "--hosts-dir", hostsDir.toString(), "--all-platforms",
                "--snapshotter", "native", reference).requireSuccess(List.of("ctr", "images", "pull", reference)).output();
        assertTrue(pulled.contains("unpacking linux/amd64 " + image.digest()), pulled);
        String listing = containerd.ctr(30, "images", "ls").requireSuccess(List.of("ctr", "images", "ls")).output();
        String line = listing.lines().filter(l -> l.startsWith(reference + " ")).findFirst()
                .orElseThrow(() -> new AssertionError(reference + " not listed:\n" + listing));
        assertTrue(line.contains(image.digest().toString()), line);
        String snapshots = containerd.ctr(30, "snapshots", "--snapshotter", "native", "ls").output();
        assertTrue(snapshots.lines().count() > 1, "the layers were unpacked into snapshots:\n" + snapshots);
    }

    @Test
    void ctrPull_dockerHubName_throughProxyWithNamespace() {
        Pushed image = new TestImages(hub.url(), 61).pushIndex("library/ctdapp", "v1", Format.OCI, 2, 16 * 1024);
        double heads = proxy.metrics().sum("pullthrough_requests", "route", "manifest", "method", "HEAD");
        double byNamespace = proxy.metrics().sum("pullthrough_routed_requests", "upstream", "docker.io", "by", "ns");
        long blobGets = proxy.upstreamRequests("blob", "GET");

        pullAndCheck("docker.io/library/ctdapp:v1", image);

        assertTrue(proxy.metrics().sum("pullthrough_requests", "route", "manifest", "method", "HEAD") > heads,
                "containerd resolves the tag with HEAD first");
        assertTrue(proxy.metrics().sum("pullthrough_routed_requests", "upstream", "docker.io", "by", "ns") > byNamespace,
                "containerd sent ?ns=docker.io");
        assertEquals(image.blobs().size(), proxy.upstreamRequests("blob", "GET") - blobGets,
                "every platform's blobs, each fetched once");
    }

    @Test
    void ctrPull_secondRegistry_routedByNamespace() {
        Pushed image = new TestImages(second.url(), 62).pushImage("team/tool", "v2", Format.DOCKER, 1, 16 * 1024);
        double byNamespace = proxy.metrics().sum("pullthrough_routed_requests", "upstream", "second.example", "by", "ns");
        pullAndCheck("second.example/team/tool:v2", image);
        assertTrue(proxy.metrics().sum("pullthrough_routed_requests", "upstream", "second.example", "by", "ns") > byNamespace,
                "containerd sent ?ns=second.example");
        assertTrue(second.requests("GET", "/v2/team/tool/manifests/v2") + second.requests("GET", "/v2/team/tool/manifests/"
                + image.digest()) >= 1, "the second registry served its own image");
    }
}
