package dev.pullthrough.e2e;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The real podman (Debian's {@code podman}) with its own storage root (vfs), pulling from plain-HTTP
 * loopback registries as a CI runner or developer machine does.
 */
final class Podman implements AutoCloseable {
    static final String BINARY = "/usr/bin/podman";

    private final Path dir;

    private Podman(Path dir) {
        this.dir = dir;
    }

    static Podman in(Path dir) {
        Processes.require(BINARY, "podman");
        return new Podman(dir);
    }

    Processes.Result podman(long timeoutSeconds, String... args) {
        List<String> command = new ArrayList<>(List.of(BINARY, "--root", dir.resolve("root").toString(),
                "--runroot", dir.resolve("run").toString(), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                "--events-backend", "file", "--tmpdir", dir.resolve("tmp").toString()));
        command.addAll(List.of(args));
        return Processes.run(command, timeoutSeconds, Processes.FENCED);
    }

    /** {@code podman pull} of a plain-HTTP image; returns the digests podman recorded for it. */
    String pull(String image) {
        List<String> command = List.of("podman", "pull", image);
        podman(300, "pull", "--tls-verify=false", image).requireSuccess(command);
        return podman(30, "image", "inspect", "--format", "{{.Digest}} {{.RepoDigests}}", image)
                .requireSuccess(List.of("podman", "image", "inspect", image)).output().trim();
    }

    @Override
    public void close() {
        podman(120, "system", "reset", "--force");
        Processes.run(List.of("rm", "-rf", dir.toString()), 120);
    }
}
