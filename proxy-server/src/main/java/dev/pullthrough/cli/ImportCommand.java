package dev.pullthrough.cli;

import dev.pullthrough.app.ProxyCore;
import dev.pullthrough.layout.OciLayoutImporter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code import FILE.tar}: loads an OCI image layout tar into the cache, every blob verified. */
@Command(name = "import", mixinStandardHelpOptions = true,
        description = "Load an OCI image layout tar (as 'export' writes it) into the cache; its images are then served, offline too.")
public final class ImportCommand implements Callable<Integer> {
    @Mixin
    Commands.ConfigOption config;

    @Parameters(index = "0", paramLabel = "FILE.tar", description = "the OCI image layout tar")
    Path tar;

    @Override
    public Integer call() {
        return Commands.withConfig(config, "import", loaded -> {
            try (ProxyCore core = ProxyCore.open(loaded).startHousekeeping()) {
                OciLayoutImporter.Report report = core.importLayout(tar);
                System.out.printf("imported %d image(s) from %s: %d new blobs (%d bytes), %d manifests%n",
                        report.images(), tar, report.blobs(), report.bytes(), report.manifests());
                return 0;
            }
        });
    }
}
