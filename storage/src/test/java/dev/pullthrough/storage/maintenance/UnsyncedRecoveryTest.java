package dev.pullthrough.storage.maintenance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BatchedSync;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.blob.UnsyncedCommits;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.testing.MovableClock;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a start after an unclean stop re-hashes (issue 28): the commits after the durable mark, and nothing else. */
class UnsyncedRecoveryTest {
    @TempDir
    Path dir;

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    @Test
    void run_afterUncleanStop_rehashesOnlyWhatWasOwedRemovesTornSyncsWhole() throws IOException {
        BlobPaths paths = new BlobPaths(dir);
        List<Path> synced = new CopyOnWriteArrayList<>();
        BatchedSync sync = new BatchedSync(new UnsyncedCommits(paths.unsyncedDir()), synced::add, new MovableClock(),
                Duration.ofSeconds(5), 1L << 30, Runnable::run);
        FileBlobStore blobs = new FileBlobStore(paths, sync);
        try (RocksMetadataStore metadata = new RocksMetadataStore(paths.metadataDir())) {
            byte[] durableBytes = random(100_000, 1);
            Digest durable = BlobFiles.write(blobs, durableBytes);
            sync.syncNow(); // the mark passes it
            Digest truncated = BlobFiles.write(blobs, random(100_000, 2));
            Digest zeroedTail = BlobFiles.write(blobs, random(100_000, 3));
            byte[] wholeBytes = random(100_000, 4);
            Digest whole = BlobFiles.write(blobs, wholeBytes);
            for (Digest digest : List.of(durable, truncated, zeroedTail, whole)) {
                metadata.putBlob(digest, 100_000, 1_000);
            }
            // The power loss: what was owed may be torn. A durable blob is never torn by one, so a tear there
            // stands for "recovery does not look": re-hashing the whole cache is fsck's job, not a start's.
            try (RandomAccessFile file = new RandomAccessFile(paths.blob(truncated).toFile(), "rw")) {
                file.setLength(40_000);
            }
            try (RandomAccessFile file = new RandomAccessFile(paths.blob(zeroedTail).toFile(), "rw")) {
                file.seek(96 * 1024);
                file.write(new byte[100_000 - 96 * 1024]);
            }
            try (RandomAccessFile file = new RandomAccessFile(paths.blob(durable).toFile(), "rw")) {
                file.write(0); // not looked at
            }
            synced.clear();

            UnsyncedRecovery.Report report = UnsyncedRecovery.run(blobs, metadata, synced::add);

            assertTrue(report.uncleanStop());
            assertEquals(3, report.blobsRehashed(), "only the commits after the mark");
            assertEquals(240_000, report.bytesRehashed(), "what the files hold now: the truncated one 40,000");
            assertEquals(2, report.tornRemoved());
            for (Digest torn : List.of(truncated, zeroedTail)) {
                assertFalse(Files.exists(paths.blob(torn)), "torn blob removed, so it is fetched again");
                assertTrue(metadata.entry(torn).isEmpty(), "and forgotten by the index");
            }
            assertArrayEquals(wholeBytes, Files.readAllBytes(paths.blob(whole)));
            assertTrue(metadata.entry(whole).isPresent());
            assertEquals(List.of(paths.blob(whole)), synced, "the whole one is synced before its marker goes");
            assertTrue(Files.exists(paths.blob(durable)), "blobs before the mark are not re-hashed");
            assertEquals(List.of(), blobs.unsyncedCommits().recorded());
        }
    }

    @Test
    void run_cleanStop_rehashesNothing() throws IOException {
        BlobPaths paths = new BlobPaths(dir);
        BatchedSync sync = new BatchedSync(new UnsyncedCommits(paths.unsyncedDir()), file -> { }, new MovableClock(),
                Duration.ofSeconds(5), 1L << 30, Runnable::run);
        FileBlobStore blobs = new FileBlobStore(paths, sync);
        try (RocksMetadataStore metadata = new RocksMetadataStore(paths.metadataDir())) {
            BlobFiles.write(blobs, "a layer");
            sync.syncNow(); // what a clean stop does last

            UnsyncedRecovery.Report report = UnsyncedRecovery.run(blobs, metadata, file -> { });

            assertFalse(report.uncleanStop());
            assertEquals(0, report.blobsRehashed());
        }
    }

    @Test
    void run_markerWithoutBlob_renameLostCountedAndSettled() throws IOException {
        BlobPaths paths = new BlobPaths(dir);
        FileBlobStore blobs = new FileBlobStore(paths);
        try (RocksMetadataStore metadata = new RocksMetadataStore(paths.metadataDir())) {
            blobs.unsyncedCommits().record(Digest.sha256Of(new byte[] {1}));

            UnsyncedRecovery.Report report = UnsyncedRecovery.run(blobs, metadata, file -> { });

            assertTrue(report.uncleanStop());
            assertEquals(1, report.alreadyGone());
            assertEquals(List.of(), blobs.unsyncedCommits().recorded());
        }
    }
}
