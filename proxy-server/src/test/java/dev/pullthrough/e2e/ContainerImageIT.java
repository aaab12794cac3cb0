package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.testing.Loopback;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container image, as a user's first {@code docker build} makes it: no base image can be pulled
 * here, so a minimal Debian made with debootstrap (kept in /var/cache between runs) and this build
 * machine's JDK on it are imported into a private Docker engine ({@link LocalImageBases}); the Dockerfile
 * takes them as BASE_IMAGE and JDK_IMAGE, runs its jlink stage on the JDK and copies the jar this build
 * made (JAR_FROM=context). The image is under 180 MB with the jar (issue 30), runs with a published port,
 * skopeo pulls through it from an upstream on TLS, it has the JVM's metrics, it runs as a non-root user
 * and stops on SIGTERM within 10 s. An integration
 * test: it needs the packaged jar. {@code -Dpullthrough.dockerHost=unix:///...} names another engine
 * than the build's DOCKER_HOST.
 */
class ContainerImageIT {
    private static final Path DOCKER = Path.of("/usr/bin/docker");
    private static final String IMAGE = "pullthrough:it";
    /** Issue 30's goal: the reference registry's image is about 25 MB, a full JRE base alone 469 MB. */
    private static final long MAX_IMAGE_BYTES = 180_000_000;
    private static final Path REPOSITORY = Path.of("..").toAbsolutePath().normalize();

    @TempDir
    Path temp;

    private static Processes.Result docker(long timeoutSeconds, String... arguments) {
        List<String> command = new ArrayList<>(List.of(DOCKER.toString()));
        command.addAll(List.of(arguments));
        Map<String, String> environment = new HashMap<>(Map.of("DOCKER_BUILDKIT", "1"));
        String engine = System.getProperty("pullthrough.dockerHost");
        if (engine != null) {
            environment.put("DOCKER_HOST", engine);
        }
        return Processes.run(command, timeoutSeconds, environment).requireSuccess(command);
    }

    @Test
    void builtFromTheDockerfile_isSmall_pullsThrough_runsAsNonRoot_stopsOnSigterm() throws Exception {
        Processes.require(DOCKER.toString(), "docker.io");
        Path jar = REPOSITORY.resolve("proxy-server/target/pullthrough.jar");
        assertTrue(Files.exists(jar), "the packaged jar: " + jar);
        LocalImageBases bases = new LocalImageBases(temp, arguments -> docker(600, arguments));
        bases.importBase();
        bases.importJdk();
        docker(900, "build", "--build-arg", "BASE_IMAGE=" + LocalImageBases.BASE, "--build-arg", "JDK_IMAGE=" + LocalImageBases.JDK,
                "--build-arg", "JAR_FROM=context", "-t", IMAGE, REPOSITORY.toString());
        long imageBytes = Long.parseLong(docker(30, "image", "inspect", "-f", "{{.Size}}", IMAGE).output().trim());
        System.out.println("ContainerImageIT: " + IMAGE + " is " + imageBytes + " bytes");
        assertTrue(imageBytes < MAX_IMAGE_BYTES, "the image with the jar is " + imageBytes + " bytes, the bound " + MAX_IMAGE_BYTES);

        // The upstream on the engine's bridge address: reachable from containers on that bridge and from here.
        String gateway = docker(30, "network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}").output().trim();
        try (ReferenceRegistry upstream = ReferenceRegistry.startOn(temp.resolve("upstream"), gateway, List.of())) {
            Pushed image = new TestImages(upstream.url(), 51).pushImage("team/app", "v1", Format.OCI, 2, 32 * 1024);
            // Then over TLS: the handshake's key exchange (ECDHE) needs jdk.crypto.ec in the jlink runtime.
            TestPki pki = TestPki.create(temp.resolve("pki"));
            upstream.stop();
            upstream.reconfigure(pki.issue("upstream", "subjectAltName=IP:" + gateway), pki.key("upstream"), List.of());
            upstream.start();
            int port = Loopback.freePort();
            int adminPort = Loopback.freePort();
            String container = docker(60, "run", "-d", "-p", "127.0.0.1:" + port + ":5000", "-p", "127.0.0.1:" + adminPort + ":5001",
                    "-v", pki.caCertificate() + ":/etc/pullthrough/upstream-ca.pem:ro",
                    "-e", "PULLTHROUGH_UPSTREAMS_0_URL=" + upstream.url(),
                    "-e", "PULLTHROUGH_UPSTREAMS_0_CAFILE=/etc/pullthrough/upstream-ca.pem", IMAGE).output().trim();
            container = container.substring(container.lastIndexOf('\n') + 1);
            try {
                String uri = "http://127.0.0.1:" + port;
                Await.until(() -> {
                    try {
                        return RegistryHttp.get(java.net.URI.create(uri), "/v2/").statusCode() == 200;
                    } catch (AssertionError notYet) {
                        return false;
                    }
                }, Duration.ofSeconds(60), "the proxy in the container answers");

                Path copied = temp.resolve("copied");
                Processes.runOk(180, Skopeo.BINARY, "--insecure-policy", "copy", "--retry-times", "0", "--src-tls-verify=false",
                        "docker://127.0.0.1:" + port + "/team/app:v1", "dir:" + copied);
                assertArrayEquals(image.bytes(), Files.readAllBytes(copied.resolve("manifest.json")));
                for (Digest blob : image.blobs()) {
                    assertEquals(blob, Digest.sha256Of(Files.readAllBytes(copied.resolve(blob.toString().substring(7)))));
                }

                // JvmGcMetrics registers its gauges only with jdk.management's GC notifications in the runtime.
                String metrics = new String(RegistryHttp.get(java.net.URI.create("http://127.0.0.1:" + adminPort), "/metrics").body(),
                        java.nio.charset.StandardCharsets.UTF_8);
                assertTrue(metrics.contains("jvm_gc_max_data_size_bytes"), "the JVM's metrics: " + metrics);

                assertEquals("10001", docker(30, "exec", container, "id", "-u").output().trim(), "runs as the image's user");
                long stopping = System.nanoTime();
                docker(30, "stop", "-t", "10", container);
                long stopMillis = (System.nanoTime() - stopping) / 1_000_000;
                assertTrue(stopMillis < 10_000, "stopped on SIGTERM in " + stopMillis + " ms");
                String exitCode = docker(30, "inspect", "-f", "{{.State.ExitCode}}", container).output().trim();
                assertNotEquals("137", exitCode, "ended by SIGTERM, not killed after the timeout");
            } finally {
                Processes.run(List.of(DOCKER.toString(), "rm", "-f", container), 30);
            }
        }
    }
}
