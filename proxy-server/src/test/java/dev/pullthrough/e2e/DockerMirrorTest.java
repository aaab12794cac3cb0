package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The main use case: a real Docker daemon with {@code registry-mirrors} pointing at the proxy pulls
 * a Docker Hub style name ({@code walkthrough:v1} is {@code library/walkthrough}) through it, from
 * the real reference registry playing Docker Hub, and gets the upstream's digest.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DockerMirrorTest {
    private Path temp;
    private ReferenceRegistry upstream;
    private ProxyUnderTest proxy;
    private DockerDaemon docker;
    private Pushed image;
    private Pushed multiPlatform;

    @BeforeAll
    void start() throws Exception {
        temp = Files.createTempDirectory(Path.of("/tmp"), "ptdm");
        upstream = ReferenceRegistry.start(temp.resolve("upstream"));
        TestImages images = new TestImages(upstream.url(), 7);
        image = images.pushImage("library/walkthrough", "v1", Format.DOCKER, 2, 128 * 1024);
        multiPlatform = images.pushIndex("team/multi", "v2", Format.OCI, 1, 64 * 1024);
        proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstream.url());
        docker = DockerDaemon.withMirror(temp.resolve("d"), proxy.url().toString());
    }

    @AfterAll
    void stop() {
        Processes.stopAll(temp, java.util.Arrays.asList(docker, proxy, upstream));
    }

    @Test
    void dockerPull_officialImageName_goesThroughProxyWithUpstreamDigest() {
        long blobGets = proxy.upstreamRequests("blob", "GET");
        docker.docker(300, "pull", "walkthrough:v1").requireSuccess(java.util.List.of("docker", "pull", "walkthrough:v1"));

        String repoDigest = docker.docker(30, "image", "inspect", "--format", "{{index .RepoDigests 0}}", "walkthrough:v1")
                .requireSuccess(java.util.List.of("docker", "image", "inspect")).output().trim();
        assertEquals("walkthrough@" + image.digest(), repoDigest);
        assertTrue(proxy.upstreamRequests("manifest", "GET") >= 1, "the manifest came through the proxy");
        assertEquals(image.blobs().size(), proxy.upstreamRequests("blob", "GET") - blobGets, "each blob fetched upstream once");
    }

    @Test
    void dockerPull_multiPlatformIndex_picksPlatformThroughProxy() {
        docker.docker(300, "pull", "team/multi:v2").requireSuccess(java.util.List.of("docker", "pull", "team/multi:v2"));

        String repoDigest = docker.docker(30, "image", "inspect", "--format", "{{index .RepoDigests 0}}", "team/multi:v2")
                .requireSuccess(java.util.List.of("docker", "image", "inspect")).output().trim();
        assertEquals("team/multi@" + multiPlatform.digest(), repoDigest);
    }
}
