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
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container image, as a user's first {@code docker build} makes it: no base image can be pulled
 * here, so a Java 17 base is made with Debian's debootstrap (kept in /var/cache between runs) and
 * imported into the private Docker engine; the Dockerfile takes it as RUNTIME_IMAGE and copies the
 * jar this build made (JAR_FROM=context). The image runs with a published port, skopeo pulls through
 * it, it runs as a non-root user and stops on SIGTERM within 10 s. An integration test: it needs the
 * packaged jar.
 */
class ContainerImageIT {
    private static final Path DOCKER = Path.of("/usr/bin/docker");
    private static final Path ROOTFS_CACHE = Path.of("/var/cache/pullthrough-tests/java17-bookworm.tar");
    private static final String BASE = "pullthrough-test/java17:bookworm";
    private static final String IMAGE = "pullthrough:it";
    private static final Path REPOSITORY = Path.of("..").toAbsolutePath().normalize();

    @TempDir
    Path temp;

    private static Processes.Result docker(long timeoutSeconds, String... arguments) {
        List<String> command = new ArrayList<>(List.of(DOCKER.toString()));
        command.addAll(List.of(arguments));
        return Processes.run(command, timeoutSeconds, java.util.Map.of("DOCKER_BUILDKIT", "1")).requireSuccess(command);
    }

    /** A minimal Debian bookworm with a Java 17 runtime, as a local image. */
    private void makeBaseImage() throws Exception {
        if (!Files.exists(ROOTFS_CACHE)) {
            Path debootstrap = Processes.require("/usr/sbin/debootstrap", "debootstrap");
            Path rootfs = temp.resolve("rootfs");
            Processes.runOk(900, debootstrap.toString(), "--variant=minbase", "--include=openjdk-17-jre-headless",
                    "bookworm", rootfs.toString(), "http://deb.debian.org/debian");
            Files.createDirectories(ROOTFS_CACHE.getParent());
            Path partial = ROOTFS_CACHE.resolveSibling(ROOTFS_CACHE.getFileName() + ".partial");
            Processes.runOk(300, "tar", "-C", rootfs.toString(), "-cf", partial.toString(), ".");
            Files.move(partial, ROOTFS_CACHE);
        }
        docker(300, "import", ROOTFS_CACHE.toString(), BASE);
    }

    @Test
    void builtFromTheDockerfile_pullsThrough_runsAsNonRoot_stopsOnSigterm() throws Exception {
        Processes.require(DOCKER.toString(), "docker.io");
        Path jar = REPOSITORY.resolve("proxy-server/target/pullthrough.jar");
        assertTrue(Files.exists(jar), "the packaged jar: " + jar);
        makeBaseImage();
        docker(600, "build", "--build-arg", "RUNTIME_IMAGE=" + BASE, "--build-arg", "JAR_FROM=context",
                "-t", IMAGE, REPOSITORY.toString());

        // The upstream on the engine's bridge address: reachable from containers on that bridge and from here.
        String gateway = docker(30, "network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Gateway}}").output().trim();
        try (ReferenceRegistry upstream = ReferenceRegistry.startOn(temp.resolve("upstream"), gateway, List.of())) {
            Pushed image = new TestImages(upstream.url(), 51).pushImage("team/app", "v1", Format.OCI, 2, 32 * 1024);
            int port = Loopback.freePort();
            String container = docker(60, "run", "-d", "-p", "127.0.0.1:" + port + ":5000",
                    "-e", "PULLTHROUGH_UPSTREAMS_0_URL=" + upstream.url(), IMAGE).output().trim();
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
