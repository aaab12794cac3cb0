package dev.pullthrough.storage.blob;

import dev.pullthrough.oci.Digest;
import java.nio.file.Path;
import java.util.UUID;

/** The only class that knows the disk layout: {@code blobs/<alg>/<2 hex>/<hex>}, {@code tmp/} and {@code unsynced/}. */
public final class BlobPaths {
    private final Path root;

    public BlobPaths(Path root) {
        this.root = root;
    }

    public Path blob(Digest digest) {
        return root.resolve("blobs").resolve(digest.algorithm()).resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
    }

    public Path blobsRoot() {
        return root.resolve("blobs");
    }

    public Path tmpDir() {
        return root.resolve("tmp");
    }

    public Path newTempFile() {
        return tmpDir().resolve(UUID.randomUUID() + ".part");
    }

    /**
     * Empty marker files, one per committed blob whose bytes may not be on the disk yet (issue 28):
     * on the blobs' own file system, so that a rename that survived a power loss implies its marker did.
     */
    public Path unsyncedDir() {
        return root.resolve("unsynced");
    }

    public Path metadataDir() {
        return root.resolve("meta");
    }
}
