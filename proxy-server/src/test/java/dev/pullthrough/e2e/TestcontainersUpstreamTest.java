package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

/**
 * The skopeo pull test again, with the upstream registry in a container run by Testcontainers on a
 * real Docker engine: the private daemon {@code .ci/run} starts (DOCKER_HOST), or one started here.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TestcontainersUpstreamTest {
    private final List<AutoCloseable> cleanup = new ArrayList<>();
    private Path temp;
    private GenericContainer<?> registry;
    private ReferenceRegistry destination;
    private ProxyUnderTest proxy;

    @BeforeAll
    void start() throws Exception {
        temp = Files.createTempDirectory(Path.of("/tmp"), "pttc");
        String dockerHost = System.getenv("DOCKER_HOST");
        if (dockerHost == null || !dockerHost.startsWith("unix://")) {
            throw new AssertionError("DOCKER_HOST must name the private engine's unix socket (the pom sets it)");
        }
        Path socketDir = Path.of(dockerHost.substring("unix://".length())).getParent();
        RegistryImage.DockerClientRunner client = (timeout, args) -> {
            List<String> command = new ArrayList<>(List.of(DockerDaemon.DOCKER, "-H", dockerHost));
            command.addAll(List.of(args));
            return Processes.run(command, timeout);
        };
        if (client.run(20, "version").exitCode() != 0) {
            // No engine there yet (.ci/run starts one): start our own on that socket, stop it afterwards.
            cleanup.add(DockerDaemon.withBridge(socketDir));
        }
        String image = RegistryImage.ensure(client, temp);
        registry = new GenericContainer<>(DockerImageName.parse(image))
                .withExposedPorts(5000)
                .waitingFor(Wait.forHttp("/v2/").forStatusCode(200));
        registry.start();
        destination = ReferenceRegistry.start(temp.resolve("destination"));
        URI upstream = URI.create("http://" + registry.getHost() + ":" + registry.getMappedPort(5000));
        proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: containerized\n    url: " + upstream
                + "\n    default: true\n");
    }

    @AfterAll
    void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (registry != null) {
            registry.stop();
        }
        if (destination != null) {
            destination.close();
        }
        for (AutoCloseable c : cleanup) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
        Processes.run(List.of("rm", "-rf", temp.toString()), 120);
    }

    @Test
    void copyAll_upstreamInContainer_keepsDigests() {
        URI upstream = URI.create("http://" + registry.getHost() + ":" + registry.getMappedPort(5000));
        Pushed index = new TestImages(upstream, 99).pushIndex("tc/app", "v1", Format.OCI, 2, 64 * 1024);

        Skopeo.copyAll(proxy.hostPort() + "/tc/app:v1", destination.hostPort() + "/tc/app:v1");

        HttpResponse<byte[]> copied = RegistryHttp.manifest(destination.url(), "tc/app", "v1");
        assertEquals(200, copied.statusCode());
        assertEquals(index.digest().toString(), copied.headers().firstValue("Docker-Content-Digest").orElseThrow());
        assertArrayEquals(index.bytes(), copied.body());
        assertEquals(index.blobs().size(), proxy.upstreamRequests("blob", "GET"), "each blob fetched upstream once");
    }
}
