package dev.pullthrough.storage.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;

class RocksMetadataStoreTest {
    @TempDir
    Path dir;

    private static Digest digest(int n) {
        return Digest.sha256Of(("blob " + n).getBytes(StandardCharsets.UTF_8));
    }

    private static List<Digest> byAge(MetadataStore store) {
        List<Digest> order = new ArrayList<>();
        store.forEachByAge(0, entry -> order.add(entry.digest()));
        return order;
    }

    @Test
    void byAge_oldestFirst_followsTouchesAndRemovals() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            store.putBlob(digest(1), 10, 1_000);
            store.putBlob(digest(2), 20, 2_000);
            store.putBlob(digest(3), 30, 3_000);
            store.touch(Map.of(digest(1), 4_000L));
            store.removeBlob(digest(2));

            assertEquals(List.of(digest(3), digest(1)), byAge(store));
            List<IndexEntry> entries = new ArrayList<>();
            store.forEachByAge(0, entries::add);
            assertEquals(new IndexEntry(digest(3), IndexEntry.Kind.BLOB, 30, 3_000), entries.get(0));
            assertEquals(new IndexEntry(digest(1), IndexEntry.Kind.BLOB, 10, 4_000), entries.get(1));
        }
    }

    @Test
    void links_listedPerRepositoryAndAll_unlinkRemovesOne() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            store.link("hub", "library/alpine", digest(1));
            store.link("hub", "library/alpine", digest(2));
            store.link("hub", "library/alpine-extra", digest(3)); // a prefix of it is another repository
            store.link("ghcr", "org/app", digest(1));

            store.unlink("hub", "library/alpine", digest(2));

            List<Digest> alpine = new ArrayList<>();
            store.forEachLink("hub", "library/alpine", alpine::add);
            assertEquals(List.of(digest(1)), alpine);
            List<RepositoryLink> all = new ArrayList<>();
            store.forEachLink(all::add);
            assertEquals(List.of(new RepositoryLink("ghcr", "org/app", digest(1)),
                    new RepositoryLink("hub", "library/alpine", digest(1)),
                    new RepositoryLink("hub", "library/alpine-extra", digest(3))), all);
        }
    }

    @Test
    void tags_listedWithTheirKeys_removeTagRemovesEveryAcceptSetOfThatTagOnly() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            TagResolution list = new TagResolution(digest(1), "application/vnd.oci.image.index.v1+json", 5);
            TagResolution child = new TagResolution(digest(2), "application/vnd.oci.image.manifest.v1+json", 6);
            store.putTag(TagKey.own("hub", "library/alpine", "3.19"), list);
            store.putTag(new TagKey("hub", "library/alpine", "3.19", "application/vnd.oci.image.manifest.v1+json"), child);
            store.putTag(TagKey.own("hub", "library/alpine", "3.19.1"), list);

            store.removeTag("hub", "library/alpine", "3.19");

            List<TagKey> keys = new ArrayList<>();
            store.forEachTag((key, resolution) -> {
                keys.add(key);
                assertEquals(list, resolution);
            });
            assertEquals(List.of(TagKey.own("hub", "library/alpine", "3.19.1")), keys);
        }
    }

    @Test
    void byAge_stopsWhenTheActionSaysSo() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            for (int i = 0; i < 10; i++) {
                store.putBlob(digest(i), 1, 1_000 + i);
            }
            List<Digest> seen = new ArrayList<>();
            store.forEachByAge(0, entry -> {
                seen.add(entry.digest());
                return seen.size() < 3;
            });
            assertEquals(List.of(digest(0), digest(1), digest(2)), seen);
            List<Digest> later = new ArrayList<>();
            store.forEachByAge(1_007, entry -> later.add(entry.digest()));
            assertEquals(List.of(digest(7), digest(8), digest(9)), later);
        }
    }

    @Test
    void byAge_putAgain_onlyTheNewPosition() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            store.putBlob(digest(1), 10, 1_000);
            store.putBlob(digest(2), 10, 2_000);
            store.putBlob(digest(1), 10, 3_000);
            assertEquals(List.of(digest(2), digest(1)), byAge(store));
        }
    }

    /** Blob 1 accessed at 2,000 ms and blob 2 at 1,000 ms, in a store closed afterwards. */
    private void storeTwoNewestFirst() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            store.putBlob(digest(1), 10, 2_000);
            store.putBlob(digest(2), 20, 1_000);
        }
    }

    private void assertReopenedOldestFirst() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            assertEquals(List.of(digest(2), digest(1)), byAge(store));
        }
    }

    @Test
    void reopened_keepsEntriesAndOrder() throws IOException {
        storeTwoNewestFirst();
        assertReopenedOldestFirst();
    }

    @Test
    void storeWithoutAgeOrder_builtOnOpen() throws Exception {
        storeTwoNewestFirst();
        dropColumnFamily("by-age"); // as a store written before the family existed
        assertReopenedOldestFirst();
    }

    @Test
    void unknownFormat_clearMessageNotAMisread() throws Exception {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            store.putBlob(digest(1), 10, 1_000);
        }
        overwriteIndexRecord(digest(1), new byte[] {9, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 3, (byte) 232});
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            MetadataException e = assertThrows(MetadataException.class, () -> store.forEachEntry(entry -> { }));
            assertTrue(e.getMessage().contains("metadata format 9") && e.getMessage().contains("reads format 1"),
                    e.getMessage());
        }
    }

    // ---------------------------------------------------------------- raw RocksDB access, as another version would write

    private interface RawChange {
        void apply(RocksDB db, ColumnFamilyHandle family) throws Exception;
    }

    /** Opens the store's RocksDB directly and changes the family {@code name}, as another version could. */
    private void changeRaw(String name, RawChange change) throws Exception {
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        try (DBOptions options = new DBOptions();
             RocksDB db = RocksDB.open(options, dir.toString(), families(), handles)) {
            for (ColumnFamilyHandle handle : handles) {
                if (new String(handle.getName(), StandardCharsets.UTF_8).equals(name)) {
                    change.apply(db, handle);
                }
            }
            handles.forEach(ColumnFamilyHandle::close);
        }
    }

    private void dropColumnFamily(String name) throws Exception {
        changeRaw(name, RocksDB::dropColumnFamily);
    }

    private void overwriteIndexRecord(Digest digest, byte[] value) throws Exception {
        changeRaw("index", (db, index) -> db.put(index, digest.toString().getBytes(StandardCharsets.UTF_8), value));
    }

    private List<ColumnFamilyDescriptor> families() throws Exception {
        List<ColumnFamilyDescriptor> families = new ArrayList<>();
        try (org.rocksdb.Options options = new org.rocksdb.Options()) {
            for (byte[] name : RocksDB.listColumnFamilies(options, dir.toString())) {
                families.add(new ColumnFamilyDescriptor(name));
            }
        }
        return families;
    }
}
