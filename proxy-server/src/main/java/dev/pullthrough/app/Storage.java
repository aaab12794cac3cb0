package dev.pullthrough.app;

import dev.pullthrough.config.StorageConfig;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.Fsck;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import java.io.IOException;

/** The opened cache directory: blob files and the metadata store. Shared by serve and the maintenance commands. */
public final class Storage implements AutoCloseable {
    final BlobPaths paths;
    final FileBlobStore blobs;
    final RocksMetadataStore metadata;

    private Storage(BlobPaths paths, FileBlobStore blobs, RocksMetadataStore metadata) {
        this.paths = paths;
        this.blobs = blobs;
        this.metadata = metadata;
    }

    /**
     * Starts loading the metadata store's native code on a thread of its own, so that it overlaps
     * reading the configuration and setting up logging (start-up to the first answer, issue 14).
     */
    public static void preload() {
        Thread thread = new Thread(RocksMetadataStore::loadLibrary, "preload-storage");
        thread.setDaemon(true);
        thread.start();
    }

    /** Opens {@code storage.path}; fails (naming the path) when it is unusable or another process holds it. */
    public static Storage open(StorageConfig config) throws StartupException {
        BlobPaths paths = new BlobPaths(config.path());
        try {
            FileBlobStore blobs = new FileBlobStore(paths);
            return new Storage(paths, blobs, new RocksMetadataStore(paths.metadataDir()));
        } catch (java.io.IOException e) {
            throw new StartupException("cannot use storage.path " + config.path().toAbsolutePath() + ": " + e.getMessage(), e);
        }
    }

    /** {@code fsck}: every blob and manifest checked against its digest, after the recovery a start does. */
    public Fsck.Report fsck() throws IOException {
        return Fsck.run(blobs, metadata);
    }

    @Override
    public void close() {
        metadata.close();
    }
}
