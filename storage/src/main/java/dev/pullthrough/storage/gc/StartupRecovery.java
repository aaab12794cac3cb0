package dev.pullthrough.storage.gc;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.MetadataStore;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

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
        List<Digest> indexed = new ArrayList<>();
        metadata.forEachEntry(entry -> {
            if (entry.kind() == IndexEntry.Kind.BLOB) {
                indexed.add(entry.digest());
            }
        });
        int forgotten = 0;
        Set<Digest> present = new HashSet<>();
        for (Digest digest : indexed) {
            if (blobs.stat(digest).isPresent()) {
                present.add(digest);
            } else {
                metadata.removeBlob(digest);
                forgotten++;
            }
        }
        List<StoredBlob> unindexed = new ArrayList<>();
        blobs.forEach(blob -> {
            if (!present.contains(blob.digest())) {
                unindexed.add(blob);
            }
        });
        for (StoredBlob blob : unindexed) {
            metadata.putBlob(blob.digest(), blob.size(), Files.getLastModifiedTime(blob.path()).toMillis());
        }
        return new Report(0, forgotten, unindexed.size(), (System.nanoTime() - started) / 1_000_000);
    }
}
