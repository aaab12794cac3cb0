package dev.pullthrough.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A container image of the reference registry, made here because no image can be pulled: a tiny
 * rootfs of Debian's registry binary, the libc files {@code ldd} names and a config, imported with
 * {@code docker import}. On a machine with internet the official {@code registry:2} would do.
 */
final class RegistryImage {
    static final String NAME = "pullthrough-test/registry:local";

    private RegistryImage() {}

    static String ensure(DockerClientRunner docker, Path workDir) {
        if (docker.run(30, "image", "inspect", NAME).exitCode() == 0) {
            return NAME;
        }
        Processes.require(ReferenceRegistry.BINARY, "docker-registry");
        try {
            Path root = workDir.resolve("rootfs");
            Files.createDirectories(root.resolve("etc/docker/registry"));
            Files.createDirectories(root.resolve("var/lib/registry"));
            Files.writeString(root.resolve("etc/docker/registry/config.yml"), String.join("\n",
                    "version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:",
                    "    rootdirectory: /var/lib/registry", "http:", "  addr: 0.0.0.0:5000", ""));
            String script = "set -e; cd " + root + "; mkdir -p usr/bin; cp -L " + ReferenceRegistry.BINARY + " usr/bin/;"
                    + " for lib in $(ldd " + ReferenceRegistry.BINARY + " | grep -o '/[^ ]*'); do"
                    + " mkdir -p \"./$(dirname $lib)\"; cp -L \"$lib\" \"./$lib\"; done;"
                    + " tar -C " + root + " -cf " + workDir.resolve("rootfs.tar") + " .";
            Processes.runOk(120, "bash", "-c", script);
            docker.run(300, "import",
                    "--change", "EXPOSE 5000",
                    "--change", "CMD [\"/usr/bin/docker-registry\", \"serve\", \"/etc/docker/registry/config.yml\"]",
                    workDir.resolve("rootfs.tar").toString(), NAME)
                    .requireSuccess(List.of("docker", "import", NAME));
            return NAME;
        } catch (IOException e) {
            throw new AssertionError("cannot build the registry image: " + e.getMessage(), e);
        }
    }

    /** The docker client bound to one daemon. */
    interface DockerClientRunner {
        Processes.Result run(long timeoutSeconds, String... args);
    }
}
