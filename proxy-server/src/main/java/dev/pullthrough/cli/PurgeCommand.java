package dev.pullthrough.cli;

import dev.pullthrough.app.ProxyCore;
import dev.pullthrough.config.Durations;
import dev.pullthrough.inventory.PurgeResult;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code purge IMAGE... | --unused-for DURATION}: removes images from the cache. */
@Command(name = "purge", mixinStandardHelpOptions = true,
        description = {"Remove images from the cache: their tags, and the manifests and blobs no other cached image uses.",
                "IMAGE is [UPSTREAM/]REPO[:TAG|@DIGEST]; a repository alone purges all of it.",
                "While a server runs, use its admin endpoint instead: DELETE /cache/images?image=IMAGE"})
public final class PurgeCommand implements Callable<Integer> {
    @Mixin
    Commands.ConfigOption config;

    @ArgGroup(multiplicity = "1")
    What what;

    static final class What {
        @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "images, tags, digests or repositories to purge")
        List<String> images;

        @Option(names = "--unused-for", paramLabel = "DURATION", description = "purge every image not pulled for this long (e.g. 30d)")
        String unusedFor;
    }

    @Override
    public Integer call() {
        return Commands.withConfig(config, "purge", loaded -> {
            int failures = 0;
            try (ProxyCore core = ProxyCore.open(loaded)) {
                List<PurgeResult> results = new ArrayList<>();
                if (what.unusedFor != null) {
                    results.addAll(core.cacheAdmin().purgeUnusedFor(Durations.parse("--unused-for", what.unusedFor)));
                } else {
                    for (String image : what.images) {
                        try {
                            results.add(core.cacheAdmin().purge(image));
                        } catch (IllegalArgumentException e) {
                            failures++;
                            System.err.println("pullthrough: purging " + image + " failed: " + e.getMessage());
                        }
                    }
                }
                long bytes = 0;
                for (PurgeResult result : results) {
                    bytes += result.bytes();
                    System.out.printf("purged %s: %d tags, %d manifests, %d blobs, %s freed%s%n", result.image(), result.tags(),
                            result.manifests(), result.blobs(), Sizes.human(result.bytes()),
                            result.inUse() == 0 ? "" : "; " + result.inUse() + " kept while in use");
                }
                System.out.printf("%d purged, %s freed%n", results.size(), Sizes.human(bytes));
            }
            return failures == 0 ? 0 : 1;
        });
    }
}
