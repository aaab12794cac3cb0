package dev.pullthrough.storage.maintenance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** fsck: every blob and manifest checked against its digest; what does not match is removed, the rest kept. */
class FsckTest {
    @TempDir
    Path dir;

    private static Digest store(FileBlobStore blobs, RocksMetadataStore metadata, String text) throws IOException {
        Digest digest = BlobFiles.write(blobs, text);
        metadata.putBlob(digest, text.length(), 1_000);
        return digest;
    }

    @Test
    void run_corruptBlobAndManifest_removedAndReported_restKept_secondRunClean() throws IOException {
        BlobPaths paths = new BlobPaths(dir);
        FileBlobStore blobs = new FileBlobStore(paths);
        try (RocksMetadataStore metadata = new RocksMetadataStore(paths.metadataDir())) {
            Digest good = store(blobs, metadata, "a good layer");
            Digest rotten = store(blobs, metadata, "a layer the disk will damage");
            Files.write(paths.blob(rotten), "a layer the disk will damagf".getBytes(StandardCharsets.UTF_8)); // a flipped bit
            byte[] manifest = "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8);
            StoredManifest kept = new StoredManifest(Digest.sha256Of(manifest), "application/vnd.oci.image.manifest.v1+json", manifest);
            StoredManifest wrong = new StoredManifest(Digest.sha256Of("other bytes".getBytes(StandardCharsets.UTF_8)),
                    "application/vnd.oci.image.manifest.v1+json", manifest);
            metadata.putManifest(kept);
            metadata.putManifest(wrong);

            Fsck.Report report = Fsck.run(blobs, metadata);

            assertEquals(2, report.blobsChecked());
            assertEquals(2, report.manifestsChecked());
            assertEquals(2, report.bad().size(), report.bad().toString());
            assertTrue(report.bad().get(0).startsWith("blob " + rotten), report.bad().toString());
            assertTrue(report.bad().get(1).startsWith("manifest " + wrong.digest()), report.bad().toString());
            assertFalse(blobs.stat(rotten).isPresent(), "the damaged file is gone");
            assertEquals(Optional.empty(), metadata.entry(rotten), "and its index entry");
            assertEquals(Optional.empty(), metadata.manifest(wrong.digest()));
            assertTrue(blobs.stat(good).isPresent());
            assertTrue(metadata.entry(good).isPresent());
            assertTrue(metadata.manifest(kept.digest()).isPresent());

            assertTrue(Fsck.run(blobs, metadata).clean(), "a second run finds nothing");
        }
    }
}
