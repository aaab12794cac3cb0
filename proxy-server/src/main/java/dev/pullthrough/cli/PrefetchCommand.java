package dev.pullthrough.cli;

import dev.pullthrough.app.ProxyCore;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.Prefetcher;
import java.io.IOException;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code prefetch IMAGE...}: pulls every platform of each image into the cache. */
@Command(name = "prefetch", mixinStandardHelpOptions = true,
        description = {"Pull every platform of each IMAGE into the cache (children before the parent, blobs before manifests).",
                "IMAGE is [UPSTREAM/]REPO[:TAG|@DIGEST]; a one-part Docker Hub name means library/NAME.",
                "While a server runs, use its admin endpoint instead: POST /prefetch?image=IMAGE"})
public final class PrefetchCommand implements Callable<Integer> {
    @Mixin
    Commands.ConfigOption config;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "images to prefetch")
    List<String> images;

    @Override
    public Integer call() {
        return Commands.withConfig(config, "prefetch", loaded -> {
            if (loaded.offline()) {
                System.err.println("pullthrough: offline is true in the config; prefetch needs the upstreams");
                return 2;
            }
            int failures = 0;
            try (ProxyCore core = ProxyCore.open(loaded).startHousekeeping()) {
                boolean terminal = System.console() != null;
                for (String image : images) {
                    Display display = new Display(image, terminal, System.out);
                    try {
                        display.finish(core.prefetch(image, display));
                    } catch (IOException | RuntimeException e) {
                        failures++;
                        display.clear();
                        System.err.println("pullthrough: prefetching " + image + " failed: " + e.getMessage());
                    }
                }
            }
            return failures == 0 ? 0 : 1;
        });
    }

    /** A one-line progress display on a terminal; nothing but the summary otherwise. */
    private static final class Display implements Prefetcher.Progress {
        private final String image;
        private final boolean terminal;
        private final PrintStream out;
        private int manifests;
        private int blobs;
        private long bytes;

        Display(String image, boolean terminal, PrintStream out) {
            this.image = image;
            this.terminal = terminal;
            this.out = out;
        }

        @Override
        public void manifest(Digest digest, String mediaType) {
            manifests++;
            show();
        }

        @Override
        public void blob(Digest digest, long size) {
            blobs++;
            bytes += size;
            show();
        }

        private void show() {
            if (terminal) {
                out.printf("\r%s: %d manifests, %d blobs, %.1f MiB ", image, manifests, blobs, bytes / 1048576.0);
                out.flush();
            }
        }

        void clear() {
            if (terminal) {
                out.print("\r");
            }
        }

        void finish(Prefetcher.Summary summary) {
            clear();
            out.printf("prefetched %s (%s): %d manifests, %d blobs, %d bytes%n", summary.image(), summary.digest(),
                    summary.manifests(), summary.blobs(), summary.blobBytes());
        }
    }
}
