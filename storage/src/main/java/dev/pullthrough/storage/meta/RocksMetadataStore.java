package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The metadata store in RocksDB, one column family per kind of data. This class owns every native
 * RocksDB object: they are opened in the constructor and closed in reverse order in {@link #close()}.
 * The write-ahead log stays on: after a kill -9 there is nowhere else to rebuild from.
 */
public final class RocksMetadataStore implements MetadataStore {
    private static final byte FORMAT = 1;
    private static final long WRITE_BUFFER_BYTES = 4L << 20;
    private static final long BLOCK_CACHE_BYTES = 8L << 20;

    static {
        RocksDB.loadLibrary();
    }

    /**
     * Loads RocksDB's native library (extracting it from the jar takes a good part of a second) so
     * that a caller can do it on a thread of its own while it does other start-up work.
     */
    public static void loadLibrary() {
        // The static initialiser above does the work, once.
    }

    private final LRUCache blockCache;
    private final ColumnFamilyOptions columnOptions;
    private final DBOptions dbOptions;
    private final WriteOptions writeOptions;
    private final List<ColumnFamilyHandle> handles = new ArrayList<>();
    private final RocksDB db;
    private final ColumnFamilyHandle manifests;
    private final ColumnFamilyHandle tags;
    private final ColumnFamilyHandle index;
    private final ColumnFamilyHandle links;
    /**
     * The index again, ordered by last access: key = access millis (8 bytes, big-endian) + digest.
     * Eviction reads it from the oldest on and stops when it freed enough, never materialising the
     * whole index.
     */
    private final ColumnFamilyHandle byAge;

    public RocksMetadataStore(Path dir) throws IOException {
        Files.createDirectories(dir);
        // Small memtables and one small shared block cache: the metadata is small, and RocksDB's
        // defaults (64 MiB memtables per column family, a cache per family) would be most of the
        // proxy's resident memory.
        blockCache = new LRUCache(BLOCK_CACHE_BYTES);
        columnOptions = new ColumnFamilyOptions()
                .setWriteBufferSize(WRITE_BUFFER_BYTES)
                .setMaxWriteBufferNumber(2)
                .setTableFormatConfig(new BlockBasedTableConfig().setBlockCache(blockCache));
        dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
        writeOptions = new WriteOptions();
        List<ColumnFamilyDescriptor> descriptors = List.of(
                new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, columnOptions),
                new ColumnFamilyDescriptor("manifests".getBytes(StandardCharsets.UTF_8), columnOptions),
                new ColumnFamilyDescriptor("tags".getBytes(StandardCharsets.UTF_8), columnOptions),
                new ColumnFamilyDescriptor("index".getBytes(StandardCharsets.UTF_8), columnOptions),
                new ColumnFamilyDescriptor("links".getBytes(StandardCharsets.UTF_8), columnOptions),
                new ColumnFamilyDescriptor("by-age".getBytes(StandardCharsets.UTF_8), columnOptions));
        try {
            db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
        } catch (RocksDBException e) {
            writeOptions.close();
            dbOptions.close();
            columnOptions.close();
            blockCache.close();
            throw new IOException("cannot open the metadata store in " + dir + ": " + e.getMessage()
                    + " (is another pullthrough process using this storage.path?)", e);
        }
        manifests = handles.get(1);
        tags = handles.get(2);
        index = handles.get(3);
        links = handles.get(4);
        byAge = handles.get(5);
        try {
            buildAgeOrderIfMissing();
        } catch (RuntimeException e) {
            close();
            throw new IOException("cannot read the metadata store in " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * A store written before the by-age family existed has an index but no age order: build it once,
     * in one pass. Afterwards every index write keeps both in the same batch.
     */
    private void buildAgeOrderIfMissing() {
        try (RocksIterator ages = db.newIterator(byAge)) {
            ages.seekToFirst();
            if (ages.isValid()) {
                return;
            }
        }
        try (WriteBatch batch = new WriteBatch()) {
            forEachEntry(entry -> {
                try {
                    batch.put(byAge, ageKey(entry.lastAccessMillis(), entry.digest()),
                            encode(entry.kind(), entry.size(), entry.lastAccessMillis()));
                } catch (RocksDBException e) {
                    throw new MetadataException("building the eviction order", e);
                }
            });
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("building the eviction order", e);
        }
    }

    private static final byte[] PRESENT = new byte[0];

    private static byte[] linkKey(String upstream, String repository, Digest digest) {
        return (upstream + '\0' + repository + '\0' + digest).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public boolean linked(String upstream, String repository, Digest digest) {
        return get(links, linkKey(upstream, repository, digest)) != null;
    }

    /**
     * One seek per repository of the upstream and one point read each: links are keyed by upstream,
     * repository and digest, so no second index is needed (a store written before this method
     * existed answers it as it is).
     */
    @Override
    public boolean linkedThrough(String upstream, Digest digest) {
        byte[] prefix = (upstream + '\0').getBytes(StandardCharsets.UTF_8);
        try (RocksIterator it = db.newIterator(links)) {
            it.seek(prefix);
            while (it.isValid() && startsWith(it.key(), prefix)) {
                byte[] key = it.key();
                int second = indexOf(key, prefix.length);
                if (second < 0) {
                    it.next(); // not ours
                    continue;
                }
                byte[] repositoryPrefix = java.util.Arrays.copyOf(key, second + 1);
                if (get(links, concat(repositoryPrefix, digest.toString().getBytes(StandardCharsets.UTF_8))) != null) {
                    return true;
                }
                byte[] past = java.util.Arrays.copyOf(key, second + 2);
                past[second + 1] = (byte) 0xFF;
                it.seek(past);
            }
        }
        return false;
    }

    private static byte[] concat(byte[] first, byte[] second) {
        byte[] both = java.util.Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, both, first.length, second.length);
        return both;
    }

    @Override
    public void link(String upstream, String repository, Digest digest) {
        try {
            db.put(links, writeOptions, linkKey(upstream, repository, digest), PRESENT);
        } catch (RocksDBException e) {
            throw new MetadataException("linking " + digest + " to " + repository, e);
        }
    }

    @Override
    public void unlink(String upstream, String repository, Digest digest) {
        try {
            db.delete(links, writeOptions, linkKey(upstream, repository, digest));
        } catch (RocksDBException e) {
            throw new MetadataException("unlinking " + digest + " from " + repository, e);
        }
    }

    @Override
    public void forEachLink(Consumer<RepositoryLink> action) {
        forEachKey(links, new byte[0], key -> {
            int first = indexOf(key, 0);
            int second = first < 0 ? -1 : indexOf(key, first + 1);
            if (second < 0) {
                return; // not ours
            }
            try {
                action.accept(new RepositoryLink(new String(key, 0, first, StandardCharsets.UTF_8),
                        new String(key, first + 1, second - first - 1, StandardCharsets.UTF_8),
                        Digest.parse(new String(key, second + 1, key.length - second - 1, StandardCharsets.UTF_8))));
            } catch (IllegalArgumentException e) {
                // not ours
            }
        });
    }

    @Override
    public void forEachLink(String upstream, String repository, Consumer<Digest> action) {
        byte[] prefix = (upstream + '\0' + repository + '\0').getBytes(StandardCharsets.UTF_8);
        forEachKey(links, prefix, key -> {
            try {
                action.accept(Digest.parse(new String(key, prefix.length, key.length - prefix.length, StandardCharsets.UTF_8)));
            } catch (IllegalArgumentException e) {
                // not ours
            }
        });
    }

    @Override
    public void forEachTag(BiConsumer<TagKey, TagResolution> action) {
        try (RocksIterator it = db.newIterator(tags)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                String[] parts = new String(it.key(), StandardCharsets.UTF_8).split("\0", -1);
                if (parts.length == 4) {
                    action.accept(new TagKey(parts[0], parts[1], parts[2], parts[3]), decodeTag(it.value()));
                }
            }
        }
    }

    @Override
    public void removeTag(String upstream, String repository, String tag) {
        byte[] prefix = TagKey.prefix(upstream, repository, tag);
        try (WriteBatch batch = new WriteBatch()) {
            forEachKey(tags, prefix, key -> {
                try {
                    batch.delete(tags, key);
                } catch (RocksDBException e) {
                    throw new MetadataException("removing tag " + tag, e);
                }
            });
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("removing tag " + tag + " of " + repository, e);
        }
    }

    /** The keys of {@code family} that start with {@code prefix}, in order. */
    private void forEachKey(ColumnFamilyHandle family, byte[] prefix, Consumer<byte[]> action) {
        try (RocksIterator it = db.newIterator(family)) {
            for (it.seek(prefix); it.isValid() && startsWith(it.key(), prefix); it.next()) {
                action.accept(it.key());
            }
        }
    }

    /**
     * Skips from repository to repository: after reading one key, seeks past every digest of its
     * repository (digests are ASCII, so 0xFF after the separator sorts after all of them), so the
     * scan costs one seek per repository, not one step per linked digest.
     */
    @Override
    public void forEachRepository(BiConsumer<String, String> upstreamAndRepository) {
        try (RocksIterator it = db.newIterator(links)) {
            it.seekToFirst();
            while (it.isValid()) {
                byte[] key = it.key();
                int first = indexOf(key, 0);
                int second = first < 0 ? -1 : indexOf(key, first + 1);
                if (second < 0) {
                    it.next(); // not ours
                    continue;
                }
                upstreamAndRepository.accept(new String(key, 0, first, StandardCharsets.UTF_8),
                        new String(key, first + 1, second - first - 1, StandardCharsets.UTF_8));
                byte[] past = java.util.Arrays.copyOf(key, second + 2);
                past[second + 1] = (byte) 0xFF;
                it.seek(past);
            }
        }
    }

    /**
     * One seek to the repository's links, then one point read of the index per link until one is
     * indexed: a repository that holds something usually answers on its first link; only one whose
     * every digest was evicted costs a read per link.
     */
    @Override
    public boolean holdsAnything(String upstream, String repository) {
        byte[] prefix = (upstream + '\0' + repository + '\0').getBytes(StandardCharsets.UTF_8);
        try (RocksIterator it = db.newIterator(links)) {
            for (it.seek(prefix); it.isValid() && startsWith(it.key(), prefix); it.next()) {
                byte[] key = it.key();
                if (get(index, java.util.Arrays.copyOfRange(key, prefix.length, key.length)) != null) {
                    return true;
                }
            }
        }
        return false;
    }

    private static int indexOf(byte[] key, int from) {
        for (int i = from; i < key.length; i++) {
            if (key[i] == 0) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public Optional<StoredManifest> manifest(Digest digest) {
        byte[] value = get(manifests, key(digest));
        return value == null ? Optional.empty() : Optional.of(decodeManifest(digest, value));
    }

    /**
     * Every record starts with the format it was written in: a record of a format this version does
     * not know (written by a newer version) stops with a message saying so, never misread.
     */
    static void checkFormat(byte format, String what) {
        if (format != FORMAT) {
            throw new MetadataException("the " + what + " was written in metadata format " + format + "; this version of"
                    + " pullthrough reads format " + FORMAT + ". Run the version that wrote storage.path, or start with an"
                    + " empty storage.path");
        }
    }

    private static StoredManifest decodeManifest(Digest digest, byte[] value) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
            checkFormat(in.readByte(), "manifest record of " + digest);
            String mediaType = in.readUTF();
            byte[] bytes = in.readAllBytes();
            return new StoredManifest(digest, mediaType, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt manifest record for " + digest, e);
        }
    }

    private static IndexEntry decodeEntry(Digest digest, byte[] value) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
            checkFormat(in.readByte(), "index record of " + digest);
            IndexEntry.Kind kind = in.readByte() == 0 ? IndexEntry.Kind.BLOB : IndexEntry.Kind.MANIFEST;
            return new IndexEntry(digest, kind, in.readLong(), in.readLong());
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt index record for " + digest, e);
        }
    }

    private static byte[] encode(IndexEntry.Kind kind, long size, long accessMillis) {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream(18);
        try (DataOutputStream out = new DataOutputStream(buffer)) {
            out.writeByte(FORMAT);
            out.writeByte(kind == IndexEntry.Kind.BLOB ? 0 : 1);
            out.writeLong(size);
            out.writeLong(accessMillis);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buffer.toByteArray();
    }

    @Override
    public void putManifest(StoredManifest manifest) {
        try (WriteBatch batch = new WriteBatch()) {
            batch.put(manifests, key(manifest.digest()), encode(manifest));
            putIndex(batch, manifest.digest(), IndexEntry.Kind.MANIFEST, manifest.bytes().length, System.currentTimeMillis());
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("storing manifest " + manifest.digest(), e);
        }
    }

    @Override
    public void removeManifest(Digest digest) {
        try (WriteBatch batch = new WriteBatch()) {
            batch.delete(manifests, key(digest));
            removeIndex(batch, digest);
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("removing manifest " + digest, e);
        }
    }

    @Override
    public void putBlob(Digest digest, long size, long accessMillis) {
        try (WriteBatch batch = new WriteBatch()) {
            putIndex(batch, digest, IndexEntry.Kind.BLOB, size, accessMillis);
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("indexing blob " + digest, e);
        }
    }

    @Override
    public void putLinkedBlob(String upstream, String repository, Digest digest, long size, long accessMillis) {
        try (WriteBatch batch = new WriteBatch()) {
            batch.put(links, linkKey(upstream, repository, digest), PRESENT);
            putIndex(batch, digest, IndexEntry.Kind.BLOB, size, accessMillis);
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("indexing blob " + digest + " of " + repository, e);
        }
    }

    @Override
    public void removeBlob(Digest digest) {
        try (WriteBatch batch = new WriteBatch()) {
            removeIndex(batch, digest);
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("removing blob " + digest + " from the index", e);
        }
    }

    @Override
    public void touch(Map<Digest, Long> accessMillis) {
        try (WriteBatch batch = new WriteBatch()) {
            for (Map.Entry<Digest, Long> access : accessMillis.entrySet()) {
                Optional<IndexEntry> old = entry(access.getKey());
                if (old.isPresent()) {
                    writeIndex(batch, old, access.getKey(), old.get().kind(), old.get().size(), access.getValue());
                }
            }
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("recording accesses", e);
        }
    }

    @Override
    public void forEachEntry(Consumer<IndexEntry> action) {
        try (RocksIterator it = db.newIterator(index)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                Digest digest;
                try {
                    digest = Digest.parse(new String(it.key(), StandardCharsets.UTF_8));
                } catch (IllegalArgumentException e) {
                    continue; // not ours; ignore rather than stop every scan
                }
                action.accept(decodeEntry(digest, it.value()));
            }
        }
    }

    @Override
    public void removeAll(List<IndexEntry> entries) {
        try (WriteBatch batch = new WriteBatch()) {
            for (IndexEntry entry : entries) {
                if (entry.kind() == IndexEntry.Kind.MANIFEST) {
                    batch.delete(manifests, key(entry.digest()));
                }
                removeIndex(batch, entry.digest());
            }
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("removing " + entries.size() + " entries from the index", e);
        }
    }

    @Override
    public Optional<IndexEntry> entry(Digest digest) {
        byte[] value = get(index, key(digest));
        return value == null ? Optional.empty() : Optional.of(decodeEntry(digest, value));
    }

    @Override
    public void forEachByAge(long fromMillis, Predicate<IndexEntry> action) {
        try (RocksIterator it = db.newIterator(byAge)) {
            // A seek lands past the deletions before its target; a seek to the first key would step
            // over every eviction not yet compacted away, and each step would be slower than the last.
            for (it.seek(ByteBuffer.allocate(8).putLong(fromMillis).array()); it.isValid(); it.next()) {
                byte[] key = it.key();
                Digest digest;
                try {
                    digest = Digest.parse(new String(key, 8, key.length - 8, StandardCharsets.UTF_8));
                } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
                    continue; // not ours
                }
                IndexEntry entry = decodeEntry(digest, it.value());
                if (!current(entry)) {
                    continue; // an older position of an entry that moved (two writers raced): skip it
                }
                if (!action.test(entry)) {
                    return;
                }
            }
        }
    }

    /** Whether the index holds this very entry (same access time), not a newer or no position of it. */
    private boolean current(IndexEntry entry) {
        if (entry(entry.digest()).map(IndexEntry::lastAccessMillis).orElse(-1L) == entry.lastAccessMillis()) {
            return true;
        }
        try {
            db.delete(byAge, writeOptions, ageKey(entry.lastAccessMillis(), entry.digest()));
        } catch (RocksDBException e) {
            throw new MetadataException("dropping a stale eviction-order record", e);
        }
        return false;
    }

    /** Writes an index entry and its position in the age order, dropping its old position. */
    private void putIndex(WriteBatch batch, Digest digest, IndexEntry.Kind kind, long size, long accessMillis)
            throws RocksDBException {
        writeIndex(batch, entry(digest), digest, kind, size, accessMillis);
    }

    /** Writes an index entry at its age position, dropping the position of the entry it replaces. */
    private void writeIndex(WriteBatch batch, Optional<IndexEntry> replaced, Digest digest, IndexEntry.Kind kind, long size,
                            long accessMillis) throws RocksDBException {
        if (replaced.isPresent()) {
            batch.delete(byAge, ageKey(replaced.get().lastAccessMillis(), digest));
        }
        byte[] value = encode(kind, size, accessMillis);
        batch.put(index, key(digest), value);
        batch.put(byAge, ageKey(accessMillis, digest), value);
    }

    private void removeIndex(WriteBatch batch, Digest digest) throws RocksDBException {
        Optional<IndexEntry> old = entry(digest);
        if (old.isPresent()) {
            batch.delete(byAge, ageKey(old.get().lastAccessMillis(), digest));
        }
        batch.delete(index, key(digest));
    }

    private static byte[] ageKey(long accessMillis, Digest digest) {
        byte[] name = key(digest);
        return ByteBuffer.allocate(8 + name.length).putLong(accessMillis).put(name).array();
    }

    @Override
    public void forEachManifest(Consumer<StoredManifest> action) {
        try (RocksIterator it = db.newIterator(manifests)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                Digest digest;
                try {
                    digest = Digest.parse(new String(it.key(), StandardCharsets.UTF_8));
                } catch (IllegalArgumentException e) {
                    continue;
                }
                action.accept(decodeManifest(digest, it.value()));
            }
        }
    }

    @Override
    public Optional<TagResolution> tag(TagKey key) {
        byte[] value = get(tags, key.bytes());
        return value == null ? Optional.empty() : Optional.of(decodeTag(value));
    }

    private static TagResolution decodeTag(byte[] value) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
            checkFormat(in.readByte(), "tag record");
            Digest digest = Digest.parse(in.readUTF());
            String mediaType = in.readUTF();
            long checkedAt = in.readLong();
            return new TagResolution(digest, mediaType, checkedAt);
        } catch (IOException | IllegalArgumentException e) {
            throw new MetadataException("reading a tag record", e);
        }
    }

    @Override
    public Optional<TagResolution> anyTag(String upstream, String repository, String tag) {
        byte[] prefix = TagKey.prefix(upstream, repository, tag);
        TagResolution newest = null;
        try (RocksIterator it = db.newIterator(tags)) {
            for (it.seek(prefix); it.isValid() && startsWith(it.key(), prefix); it.next()) {
                TagResolution resolution = decodeTag(it.value());
                if (newest == null || resolution.checkedAtMillis() > newest.checkedAtMillis()) {
                    newest = resolution;
                }
            }
        }
        return Optional.ofNullable(newest);
    }

    private static boolean startsWith(byte[] key, byte[] prefix) {
        if (key.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (key[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void putTag(TagKey key, TagResolution resolution) {
        try {
            db.put(tags, writeOptions, key.bytes(), encode(resolution));
        } catch (RocksDBException e) {
            throw new MetadataException("storing tag " + key.tag(), e);
        }
    }

    @Override
    public void close() {
        for (ColumnFamilyHandle handle : handles) {
            handle.close();
        }
        db.close();
        writeOptions.close();
        dbOptions.close();
        columnOptions.close();
        blockCache.close();
    }

    private byte[] get(ColumnFamilyHandle family, byte[] key) {
        try {
            return db.get(family, key);
        } catch (RocksDBException e) {
            throw new MetadataException("reading metadata", e);
        }
    }

    private static byte[] key(Digest digest) {
        return digest.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] encode(StoredManifest manifest) {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream(manifest.bytes().length + 64);
        try (DataOutputStream out = new DataOutputStream(buffer)) {
            out.writeByte(FORMAT);
            out.writeUTF(manifest.mediaType());
            out.write(manifest.bytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buffer.toByteArray();
    }

    private static byte[] encode(TagResolution resolution) {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream(256);
        try (DataOutputStream out = new DataOutputStream(buffer)) {
            out.writeByte(FORMAT);
            out.writeUTF(resolution.digest().toString());
            out.writeUTF(resolution.mediaType());
            out.writeLong(resolution.checkedAtMillis());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return buffer.toByteArray();
    }
}
