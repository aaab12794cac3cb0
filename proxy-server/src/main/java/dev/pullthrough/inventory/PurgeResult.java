package dev.pullthrough.inventory;

/**
 * What a purge removed: tags, manifests and blobs, the bytes they held, and how many it had to keep
 * because a client was being served them or they were being downloaded.
 */
public record PurgeResult(String image, int tags, int manifests, int blobs, long bytes, int inUse) {
    static PurgeResult nothing(String image) {
        return new PurgeResult(image, 0, 0, 0, 0, 0);
    }

    PurgeResult plus(PurgeResult other) {
        return new PurgeResult(image, tags + other.tags, manifests + other.manifests, blobs + other.blobs,
                bytes + other.bytes, inUse + other.inUse);
    }
}
