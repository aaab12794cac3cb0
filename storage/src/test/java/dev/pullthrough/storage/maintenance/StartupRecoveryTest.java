package dev.pullthrough.storage.maintenance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StartupRecoveryTest {
    @TempDir
    Path dir;

    @Test
    void run_tempSweptMissingForgottenUnindexedIndexed_indexMatchesFiles() throws IOException {
        BlobPaths paths = new BlobPaths(dir);
        FileBlobStore blobs = new FileBlobStore(paths);
        try (RocksMetadataStore metadata = new RocksMetadataStore(paths.metadataDir())) {
            Digest kept = BlobFiles.write(blobs, "kept");
            metadata.putBlob(kept, 4, 1_000);
            Digest gone = BlobFiles.write(blobs, "gone");
            metadata.putBlob(gone, 4, 1_000);
            Files.delete(paths.blob(gone));                    // its file lost in a crash
            Digest unindexed = BlobFiles.write(blobs, "committed, then the crash"); // file renamed, index not yet written
            Files.writeString(paths.newTempFile(), "half a download");

            StartupRecovery.Report report = StartupRecovery.run(blobs, metadata);

            assertEquals(1, report.tempFilesRemoved());
            assertEquals(1, report.missingBlobsForgotten());
            assertEquals(1, report.blobsIndexed());
            assertTrue(metadata.entry(kept).isPresent());
            assertTrue(metadata.entry(gone).isEmpty());
            IndexEntry reindexed = metadata.entry(unindexed).orElseThrow();
            assertEquals(25, reindexed.size());
            try (var temps = Files.list(paths.tmpDir())) {
                assertEquals(0, temps.count());
            }
        }
    }
}
