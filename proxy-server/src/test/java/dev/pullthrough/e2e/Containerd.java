package dev.pullthrough.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A private containerd (Debian's {@code containerd}) with its own root, state and socket, the CRI
 * plugin disabled; {@code ctr} talks to it. It pulls as a Kubernetes node does.
 */
final class Containerd implements AutoCloseable {
    static final String CONTAINERD = "/usr/bin/containerd";
    static final String CTR = "/usr/bin/ctr";

    private final Path dir;
    private final Process process;

    private Containerd(Path dir, Process process) {
        this.dir = dir;
        this.process = process;
    }

    static Containerd start(Path dir) {
        Processes.require(CONTAINERD, "containerd");
        Processes.require(CTR, "containerd");
        try {
            Files.createDirectories(dir);
            Path config = dir.resolve("config.toml");
            Files.writeString(config, String.join("\n",
                    "version = 2",
                    "root = \"" + dir.resolve("root") + "\"",
                    "state = \"" + dir.resolve("state") + "\"",
                    "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]",
                    "[grpc]",
                    "  address = \"" + dir.resolve("c.sock") + "\"",
                    ""));
            ProcessBuilder builder = new ProcessBuilder(CONTAINERD, "--config", config.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("containerd.log").toFile());
            builder.environment().putAll(Processes.FENCED);
            Process process = builder.start();
            Containerd containerd = new Containerd(dir, process);
            containerd.awaitReady();
            return containerd;
        } catch (IOException e) {
            throw new AssertionError("cannot start containerd: " + e.getMessage(), e);
        }
    }

    Processes.Result ctr(long timeoutSeconds, String... args) {
        List<String> command = new ArrayList<>(List.of(CTR, "-a", dir.resolve("c.sock").toString()));
        command.addAll(List.of(args));
        // ctr itself fetches (containerd 1.6): it is the one to fence off the real registry.
        return Processes.run(command, timeoutSeconds, Processes.FENCED);
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("containerd exited with " + process.exitValue());
            }
            if (Files.exists(dir.resolve("c.sock")) && ctr(10, "version").exitCode() == 0) {
                return;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("containerd did not become ready within 30s");
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Processes.run(List.of("rm", "-rf", dir.resolve("root").toString(), dir.resolve("state").toString()), 60);
    }
}
