package dev.pullthrough.cli;

import dev.pullthrough.app.ProxyCore;
import dev.pullthrough.inventory.CachedImage;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code list [PATTERN]}: the cached images, one line each. */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = {"List the cached images: name, tags, digest, cached size, last pulled.",
                "PATTERN matches image names as clients pull them; * matches any run of characters (library/*, ghcr.io/org/*).",
                "While a server runs, use its admin endpoint instead: GET /cache/images[?repository=REPO]"})
public final class ListCommand implements Callable<Integer> {
    @Mixin
    Commands.ConfigOption config;

    @Parameters(arity = "0..1", paramLabel = "PATTERN", description = "which images (default: all)")
    String pattern;

    @Override
    public Integer call() {
        return Commands.withConfig(config, "list", loaded -> {
            Pattern matching = glob(pattern == null ? "*" : pattern);
            try (ProxyCore core = ProxyCore.open(loaded)) {
                List<CachedImage> images = core.cacheAdmin().images(Optional.empty()).stream()
                        .filter(image -> matching.matcher(image.name()).matches()).toList();
                System.out.printf("%-40s %-24s %-19s %10s  %s%n", "IMAGE", "TAGS", "DIGEST", "SIZE", "LAST PULLED");
                for (CachedImage image : images) {
                    System.out.printf("%-40s %-24s %-19s %10s  %s%n", image.name(),
                            image.tags().isEmpty() ? "-" : String.join(",", image.tags()),
                            image.digest().toString().substring(0, Math.min(19, image.digest().toString().length())),
                            Sizes.human(image.size()),
                            image.lastPulledMillis() == 0 ? "-" : Instant.ofEpochMilli(image.lastPulledMillis()).toString());
                }
                System.out.printf("%d images, %s%n", images.size(),
                        Sizes.human(images.stream().mapToLong(CachedImage::size).sum()));
                return 0;
            }
        });
    }

    /** A shell-like pattern where {@code *} matches anything, slashes included. */
    static Pattern glob(String pattern) {
        return Pattern.compile(Arrays.stream(pattern.split("\\*", -1)).map(Pattern::quote).collect(Collectors.joining(".*")));
    }
}
