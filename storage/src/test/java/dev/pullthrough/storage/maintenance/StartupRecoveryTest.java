package dev.pullthrough.storage.maintenance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.BlobWriter;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StartupRecoveryTest {
    @TempDir
    Path dir;

    private static Digest store(FileBlobStore blobs, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256Of(bytes);
        try (BlobWriter writer = blobs.newWriter(digest)) {
            writer.write(ByteBuffer.wrap(bytes));
            writer.commit();
        }
        return digest;
    }

    @Test
    void run_tempSweptMissingForgottenUnindexedIndexed_indexMatchesFiles() throws IOException {
        BlobPaths paths = new BlobPaths(dir);
        FileBlobStore blobs = new FileBlobStore(paths);
        try (RocksMetadataStore metadata = new RocksMetadataStore(paths.metadataDir())) {
            Digest kept = store(blobs, "kept");
            metadata.putBlob(kept, 4, 1_000);
            Digest gone = store(blobs, "gone");
            metadata.putBlob(gone, 4, 1_000);
            Files.delete(paths.blob(gone));                    // its file lost in a crash
            Digest unindexed = store(blobs, "committed, then the crash"); // file renamed, index not yet written
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
