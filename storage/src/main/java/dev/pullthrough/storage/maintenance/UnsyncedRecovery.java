package dev.pullthrough.storage.maintenance;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BatchedSync;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.storage.blob.UnsyncedCommits;
import dev.pullthrough.storage.meta.MetadataStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.Optional;

/**
 * After an unclean stop (kill -9, power loss), re-hashes the blobs whose commits were not yet known
 * to be on the disk (issue 28): one sync window's worth, not the whole cache. A blob that no longer
 * hashes to its digest (torn by a power loss) is removed with its index entry, so the next pull
 * fetches it again; one that does is synced, then forgotten. Runs before anything is served.
 */
public final class UnsyncedRecovery {
    /** What the re-hash found: blobs checked, their bytes, torn ones removed, markers without a blob, and how long it took. */
    public record Report(int blobsRehashed, long bytesRehashed, int tornRemoved, int alreadyGone, long millis) {
        /** Whether the previous run stopped without syncing every commit. */
        public boolean uncleanStop() {
            return blobsRehashed + alreadyGone > 0;
        }
    }

    private UnsyncedRecovery() {}

    public static Report run(FileBlobStore blobs, MetadataStore metadata, BatchedSync.FileSync sync) throws IOException {
        long started = System.nanoTime();
        UnsyncedCommits unsynced = blobs.unsyncedCommits();
        List<Digest> owed = unsynced.recorded();
        int rehashed = 0;
        int torn = 0;
        int gone = 0;
        long bytes = 0;
        ByteBuffer buffer = owed.isEmpty() ? null : ByteBuffer.allocateDirect(1 << 20);
        for (Digest digest : owed) {
            Optional<StoredBlob> blob = blobs.stat(digest);
            if (blob.isEmpty()) {
                gone++; // its rename did not survive: the temp file was swept, nothing to serve
            } else {
                rehashed++;
                bytes += blob.get().size();
                if (readsWhole(blob.get(), buffer)) {
                    keep(blob.get(), sync);
                } else {
                    metadata.removeBlob(digest);
                    blobs.delete(digest);
                    torn++;
                }
            }
            // Settled only after the blob was synced or removed: a crash during recovery re-hashes it again.
            unsynced.settle(digest);
        }
        return new Report(rehashed, bytes, torn, gone, (System.nanoTime() - started) / 1_000_000);
    }

    /** Whether the blob hashes to its digest; a file the disk cannot read back is as torn as one that hashes wrong. */
    private static boolean readsWhole(StoredBlob blob, ByteBuffer buffer) {
        try {
            return Fsck.hashMatches(blob, buffer);
        } catch (IOException e) {
            return false;
        }
    }

    /** Whole after a kill -9 (the page cache kept it) but perhaps not on the disk yet: synced before its marker goes. */
    private static void keep(StoredBlob blob, BatchedSync.FileSync sync) throws IOException {
        try {
            sync.force(blob.path());
        } catch (NoSuchFileException e) {
            // removed meanwhile
        }
    }
}
