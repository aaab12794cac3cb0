package dev.pullthrough.app;

import dev.pullthrough.config.StorageConfig;
import dev.pullthrough.storage.blob.BatchedSync;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.CommitDurability;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.Fsck;
import dev.pullthrough.storage.maintenance.UnsyncedRecovery;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import java.io.IOException;
import java.time.Clock;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** The opened cache directory: blob files and the metadata store. Shared by serve and the maintenance commands. */
public final class Storage implements AutoCloseable {
    /**
     * Commits are synced in batches off the download path (issue 28): at most {@code storage.syncInterval},
     * or this many bytes, of committed blobs is owed to the disk, and re-hashed after a crash.
     */
    static final long SYNC_WINDOW_BYTES = 256L << 20;

    final BlobPaths paths;
    final FileBlobStore blobs;
    final RocksMetadataStore metadata;
    final BatchedSync commits;
    /** The one thread that syncs commits: never a download's, never an event loop. */
    private final ScheduledExecutorService syncing;

    private Storage(BlobPaths paths, FileBlobStore blobs, RocksMetadataStore metadata, BatchedSync commits,
                    ScheduledExecutorService syncing) {
        this.paths = paths;
        this.blobs = blobs;
        this.metadata = metadata;
        this.commits = commits;
        this.syncing = syncing;
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
        ScheduledExecutorService syncing = Executors.newSingleThreadScheduledExecutor(ProxyCore.named("blob-sync"));
        try {
            BatchedSync commits = new BatchedSync(new FileBlobStore(paths).unsyncedCommits(), BatchedSync.FileSync.FORCE,
                    Clock.systemUTC(), config.syncInterval(), SYNC_WINDOW_BYTES, syncing);
            // storage.syncInterval 0s: each blob synced before its rename, as before issue 28.
            FileBlobStore blobs = new FileBlobStore(paths, config.syncInterval().isZero() ? CommitDurability.EACH_COMMIT : commits,
                    config.directWrites());
            Storage storage = new Storage(paths, blobs, new RocksMetadataStore(paths.metadataDir()), commits, syncing);
            syncing.scheduleWithFixedDelay(storage::syncIfDue, 1, 1, TimeUnit.SECONDS);
            return storage;
        } catch (java.io.IOException e) {
            syncing.shutdownNow();
            throw new StartupException("cannot use storage.path " + config.path().toAbsolutePath() + ": " + e.getMessage(), e);
        }
    }

    /** {@code fsck}: every blob and manifest checked against its digest, after the recovery a start does. */
    public Fsck.Report fsck() throws IOException {
        return Fsck.run(blobs, metadata);
    }

    /**
     * After an unclean stop, re-hashes what the last run had committed but not synced (one sync
     * window at most); torn blobs are removed and fetched again. Before anything is served.
     */
    UnsyncedRecovery.Report recoverUnsyncedCommits() throws IOException {
        return UnsyncedRecovery.run(blobs, metadata, BatchedSync.FileSync.FORCE);
    }

    private void syncIfDue() {
        try {
            commits.syncIfDue();
        } catch (RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(Storage.class).warn("syncing committed blobs failed: {}", e.toString());
        }
    }

    /** Syncs every commit so far and stops the syncing thread: a clean stop leaves nothing for the next start to re-hash. */
    void syncCommits() {
        syncing.shutdownNow();
        try {
            syncing.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        commits.syncNow();
    }

    @Override
    public void close() {
        syncCommits();
        metadata.close();
    }
}
