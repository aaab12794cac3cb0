package dev.pullthrough.proxy;

/**
 * How far one walk of an image's graph (prefetch, keep-warm, import) may go: how deep indexes may
 * nest, how many distinct manifests and blobs one image may name, and how many upstream requests run
 * at once. A hostile index (a child listed twice, nested 40 levels: 2^40 paths in a few KB) costs one
 * visit per distinct digest, and an image beyond these bounds is refused, naming the bound (issue 26).
 */
public record WalkLimits(int maxDepth, int maxManifests, int maxBlobs, int parallel) {
    /**
     * Far above real images (a multi-platform index with attestations names about 50 manifests, an
     * image at most a few hundred layers), far below what keeps a proxy busy for minutes.
     */
    public static final WalkLimits DEFAULT = new WalkLimits(64, 1000, 10_000, 4);

    public WalkLimits {
        if (maxDepth < 1 || maxManifests < 1 || maxBlobs < 1 || parallel < 1) {
            throw new IllegalArgumentException("walk limits must be positive: " + maxDepth + ", " + maxManifests + ", "
                    + maxBlobs + ", " + parallel);
        }
    }
}
