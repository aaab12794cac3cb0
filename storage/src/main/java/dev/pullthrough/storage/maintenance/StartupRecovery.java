package dev.pullthrough.storage.maintenance;

import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.MetadataStore;
import java.io.IOException;
import java.nio.file.Files;

/**
 * Brings the cache back to a consistent state after an interrupted run (kill -9, power loss):
 * removes stray temp files, drops index entries of blobs whose file is gone (so they are fetched
 * again, not served), and indexes blob files that were committed just before the crash.
 */
public final class StartupRecovery {
    /** What recovery found and did, and how long it took. */
    public record Report(int tempFilesRemoved, int missingBlobsForgotten, int blobsIndexed, long millis) {}

    private StartupRecovery() {}

    /** Sweep and reconcile, in one go (fsck). */
    public static Report run(FileBlobStore blobs, MetadataStore metadata) throws IOException {
        long started = System.nanoTime();
        int temps = sweep(blobs);
        Report reconciled = reconcile(blobs, metadata);
        return new Report(temps, reconciled.missingBlobsForgotten(), reconciled.blobsIndexed(),
                (System.nanoTime() - started) / 1_000_000);
    }

    /**
     * Removes the temp files of downloads that an interrupted run left: before anything else writes
     * (a download started afterwards has a temp file too). Reads only the temp directory.
     */
    public static int sweep(FileBlobStore blobs) throws IOException {
        return blobs.sweepTempFiles();
    }

    /**
     * Makes the index and the blob files agree; one pass over each, so it runs in the background
     * while the proxy serves (serving trusts the files, never an index entry alone).
     */
    public static Report reconcile(FileBlobStore blobs, MetadataStore metadata) throws IOException {
        long started = System.nanoTime();
        // Both passes stream, one entry at a time: a million entries must not become lists in the heap.
        int[] forgotten = {0};
        IOException[] failed = {null};
        metadata.forEachEntry(entry -> {
            if (entry.kind() != IndexEntry.Kind.BLOB || failed[0] != null) {
                return;
            }
            try {
                if (blobs.stat(entry.digest()).isEmpty()) {
                    metadata.removeBlob(entry.digest());
                    forgotten[0]++;
                }
            } catch (IOException e) {
                failed[0] = e;
            }
        });
        if (failed[0] != null) {
            throw failed[0];
        }
        int[] indexed = {0};
        blobs.forEach(blob -> {
            if (metadata.entry(blob.digest()).isEmpty()) {
                try {
                    metadata.putBlob(blob.digest(), blob.size(), Files.getLastModifiedTime(blob.path()).toMillis());
                    indexed[0]++;
                } catch (IOException e) {
                    failed[0] = e;
                }
            }
        });
        if (failed[0] != null) {
            throw failed[0];
        }
        return new Report(0, forgotten[0], indexed[0], (System.nanoTime() - started) / 1_000_000);
    }
}
