package dev.pullthrough.storage.maintenance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26: room is reserved for a download before its bytes are written, only for a blob the cache
 * takes (at most half of the bound), and every reservation counts against the bound.
 */
class CacheJanitorReservationTest {
    @TempDir
    Path dir;

    private RocksMetadataStore metadata;
    private FileBlobStore blobs;
    private final List<IndexEntry> evicted = new ArrayList<>();
    private CacheJanitor janitor;

    @BeforeEach
    void open() throws IOException {
        metadata = new RocksMetadataStore(dir.resolve("meta"));
        blobs = new FileBlobStore(new BlobPaths(dir.resolve("blobs")));
        janitor = new CacheJanitor(metadata, blobs, 1_000, d -> false, evicted::add, Clock.systemUTC(), Runnable::run);
        for (int i = 0; i < 8; i++) { // 800 of 1,000
            byte[] bytes = new byte[100];
            byte[] label = ("blob " + i).getBytes(StandardCharsets.UTF_8);
            System.arraycopy(label, 0, bytes, 0, label.length);
            Digest digest = BlobFiles.write(blobs, bytes);
            metadata.putBlob(digest, 100, 1_000 + i);
        }
    }

    @AfterEach
    void close() {
        metadata.close();
    }

    @Test
    void reserve_largerThanHalfTheBound_refusedNothingEvicted() {
        assertEquals(500, janitor.largestAdmitted());
        assertEquals(Optional.empty(), janitor.reserve(501));
        assertEquals(Optional.empty(), janitor.reserve(1_000_000_000_000_000L));
        assertEquals(List.of(), evicted);
        assertEquals(0, janitor.reserved());
    }

    @Test
    void reserve_countsAgainstTheBound_forTheNextOneToo() {
        CacheJanitor.Reservation first = janitor.reserve(200).orElseThrow(); // 800 + 200: fits
        assertEquals(List.of(), evicted);
        janitor.reserve(100).orElseThrow(); // 800 + 200 + 100: one of 100 goes for it, then a pass to the low-water mark
        assertTrue(janitor.used() + janitor.reserved() <= 1_000, janitor.used() + " + " + janitor.reserved());
        assertFalse(evicted.isEmpty());
        first.release();
        assertEquals(100, janitor.reserved());
    }

    @Test
    void growTo_pastHalfTheBoundOrAfterRelease_refusedHoldingWhatItHad() {
        CacheJanitor.Reservation growing = janitor.reserve(0).orElseThrow();
        assertTrue(growing.growTo(150));
        assertEquals(150, janitor.reserved());
        assertFalse(growing.growTo(501));
        assertEquals(150, growing.bytes());
        growing.release();
        assertFalse(growing.growTo(10), "a released reservation holds nothing again");
        assertEquals(0, janitor.reserved());
    }

    @Test
    void settle_committedBlob_itsBytesCountOnceNothingEvicted() throws IOException {
        CacheJanitor.Reservation download = janitor.reserve(0).orElseThrow();
        assertTrue(download.growTo(200)); // 800 + 200: exactly the bound
        Digest digest = BlobFiles.write(blobs, new byte[200]);
        metadata.putBlob(digest, 200, 2_000); // the commit indexes it, then settles its room

        download.settle(200);

        assertEquals(1_000, janitor.used());
        assertEquals(0, janitor.reserved(), "the room became what the index counts");
        assertTrue(janitor.reserve(0).orElseThrow().growTo(0));
        assertEquals(List.of(), evicted, "counted twice, the bound would have looked passed");
        assertFalse(download.growTo(10), "a settled reservation holds nothing again");
    }
}
