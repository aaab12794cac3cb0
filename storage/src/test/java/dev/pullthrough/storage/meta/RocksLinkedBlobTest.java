package dev.pullthrough.storage.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RocksMetadataStore#putLinkedBlob}, the one write of a small blob's download (issue 28): the
 * link, the index entry and its place in the eviction order, as separate writes would leave them.
 */
class RocksLinkedBlobTest {
    @TempDir
    Path dir;

    private static Digest digest(int n) {
        return Digest.sha256Of(("small blob " + n).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void putLinkedBlob_linksIndexesAndOrdersByAge_andSurvivesReopen() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            store.putBlob(digest(1), 10, 1_000);
            store.putLinkedBlob("hub", "library/alpine", digest(2), 1024, 2_000);
        }
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            assertTrue(store.linked("hub", "library/alpine", digest(2)));
            assertFalse(store.linked("hub", "library/other", digest(2)), "linked to its own repository only");
            assertEquals(new IndexEntry(digest(2), IndexEntry.Kind.BLOB, 1024, 2_000), store.entry(digest(2)).orElseThrow());
            List<Digest> order = new ArrayList<>();
            store.forEachByAge(0, entry -> order.add(entry.digest()));
            assertEquals(List.of(digest(1), digest(2)), order);
        }
    }

    @Test
    void putLinkedBlob_again_movesTheAgePositionWithoutADuplicate() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            store.putLinkedBlob("hub", "library/alpine", digest(1), 1024, 1_000);
            store.putBlob(digest(2), 10, 2_000);
            store.putLinkedBlob("hub", "library/alpine", digest(1), 1024, 3_000);

            List<IndexEntry> order = new ArrayList<>();
            store.forEachByAge(0, order::add);
            assertEquals(List.of(new IndexEntry(digest(2), IndexEntry.Kind.BLOB, 10, 2_000),
                    new IndexEntry(digest(1), IndexEntry.Kind.BLOB, 1024, 3_000)), order);
        }
    }
}
