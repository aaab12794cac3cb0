package dev.pullthrough.cli;

import dev.pullthrough.app.ProxyCore;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code export --output FILE.tar IMAGE...}: cached images as an OCI image layout tar. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Write cached images (every platform) as an OCI image layout tar, from the cache alone.",
                "IMAGE is [UPSTREAM/]REPO[:TAG|@DIGEST]. Load the tar elsewhere with 'import'."})
public final class ExportCommand implements Callable<Integer> {
    @Mixin
    Commands.ConfigOption config;

    @Option(names = "--output", required = true, paramLabel = "FILE.tar", description = "the tar to write")
    Path output;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "images to export")
    List<String> images;

    @Override
    public Integer call() {
        return Commands.withConfig(config, "export", loaded -> {
            try (ProxyCore core = ProxyCore.open(loaded).startHousekeeping()) {
                int written = core.exportImages(images, output);
                System.out.println("exported " + images.size() + " image(s), " + written + " blobs and manifests, to " + output);
                return 0;
            }
        });
    }
}
