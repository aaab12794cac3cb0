package dev.pullthrough.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A private Docker daemon (Debian's {@code docker.io}) for one test class: its own data, exec root,
 * socket and pid file in a temp dir, {@code vfs} storage, no iptables. With {@code bridge: none} it
 * only pulls; with the default bridge it also runs containers with published ports.
 */
final class DockerDaemon implements AutoCloseable {
    static final String DOCKERD = "/usr/sbin/dockerd";
    static final String DOCKER = "/usr/bin/docker";

    private final Path dir;
    private final Process process;

    private DockerDaemon(Path dir, Process process) {
        this.dir = dir;
        this.process = process;
    }

    /** A daemon that pulls through {@code mirror} (its {@code registry-mirrors}); no networking for containers. */
    static DockerDaemon withMirror(Path dir, String mirrorUrl) {
        return start(dir, "{\"storage-driver\":\"vfs\",\"iptables\":false,\"ip6tables\":false,\"bridge\":\"none\","
                + "\"registry-mirrors\":[\"" + mirrorUrl + "\"]}");
    }

    /** A daemon that can run containers with published ports (default bridge, no iptables). */
    static DockerDaemon withBridge(Path dir) {
        return start(dir, "{\"storage-driver\":\"vfs\",\"iptables\":false,\"ip6tables\":false}");
    }

    private static DockerDaemon start(Path dir, String daemonJson) {
        Processes.require(DOCKERD, "docker.io");
        Processes.require(DOCKER, "docker.io");
        try {
            // unix socket paths are limited to 108 bytes: keep the directory short.
            Files.createDirectories(dir);
            Path config = dir.resolve("daemon.json");
            Files.writeString(config, daemonJson);
            ProcessBuilder builder = new ProcessBuilder(DOCKERD, "--config-file", config.toString(),
                    "--data-root", dir.resolve("data").toString(), "--exec-root", dir.resolve("exec").toString(),
                    "-H", "unix://" + dir.resolve("docker.sock"), "--pidfile", dir.resolve("docker.pid").toString())
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("dockerd.log").toFile());
            builder.environment().putAll(Processes.FENCED); // a failing mirror must not send it to Docker Hub
            Process process = builder.start();
            DockerDaemon daemon = new DockerDaemon(dir, process);
            daemon.awaitReady();
            return daemon;
        } catch (IOException e) {
            throw new AssertionError("cannot start dockerd: " + e.getMessage(), e);
        }
    }

    String host() {
        return "unix://" + dir.resolve("docker.sock");
    }

    /** Runs the docker client against this daemon. */
    Processes.Result docker(long timeoutSeconds, String... args) {
        List<String> command = new java.util.ArrayList<>(List.of(DOCKER, "-H", host()));
        command.addAll(List.of(args));
        return Processes.run(command, timeoutSeconds);
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("dockerd exited with " + process.exitValue() + ":\n" + log());
            }
            if (Files.exists(dir.resolve("docker.sock")) && docker(10, "version").exitCode() == 0) {
                return;
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("dockerd did not become ready within 60s:\n" + log());
    }

    String log() {
        try {
            return Files.readString(dir.resolve("dockerd.log"));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // vfs layers are plain directories; remove them so temp dirs stay small.
        Processes.run(List.of("rm", "-rf", dir.resolve("data").toString(), dir.resolve("exec").toString()), 120);
    }
}
