package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The metadata store in RocksDB, one column family per kind of data. This class owns every native
 * RocksDB object: they are opened in the constructor and closed in reverse order in {@link #close()}.
 * The write-ahead log stays on: after a kill -9 there is nowhere else to rebuild from.
 */
public final class RocksMetadataStore implements MetadataStore {
    private static final byte FORMAT = 1;

    static {
        RocksDB.loadLibrary();
    }

    private final ColumnFamilyOptions columnOptions;
    private final DBOptions dbOptions;
    private final WriteOptions writeOptions;
    private final List<ColumnFamilyHandle> handles = new ArrayList<>();
    private final RocksDB db;
    private final ColumnFamilyHandle manifests;
    private final ColumnFamilyHandle tags;

    public RocksMetadataStore(Path dir) throws IOException {
        Files.createDirectories(dir);
        columnOptions = new ColumnFamilyOptions();
        dbOptions = new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true);
        writeOptions = new WriteOptions();
        List<ColumnFamilyDescriptor> descriptors = List.of(
                new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, columnOptions),
                new ColumnFamilyDescriptor("manifests".getBytes(StandardCharsets.UTF_8), columnOptions),
                new ColumnFamilyDescriptor("tags".getBytes(StandardCharsets.UTF_8), columnOptions));
        try {
            db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
        } catch (RocksDBException e) {
            writeOptions.close();
            dbOptions.close();
            columnOptions.close();
            throw new IOException("cannot open the metadata store in " + dir + ": " + e.getMessage()
                    + " (is another pullthrough process using this storage.path?)", e);
        }
        manifests = handles.get(1);
        tags = handles.get(2);
    }

    @Override
    public Optional<StoredManifest> manifest(Digest digest) {
        byte[] value = get(manifests, key(digest));
        if (value == null) {
            return Optional.empty();
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
            in.readByte();
            String mediaType = in.readUTF();
            byte[] bytes = in.readAllBytes();
            return Optional.of(new StoredManifest(digest, mediaType, bytes));
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt manifest record for " + digest, e);
        }
    }

    @Override
    public void putManifest(StoredManifest manifest) {
        try {
            db.put(manifests, writeOptions, key(manifest.digest()), encode(manifest));
        } catch (RocksDBException e) {
            throw new MetadataException("storing manifest " + manifest.digest(), e);
        }
    }

    @Override
    public void putManifestAndTag(StoredManifest manifest, TagKey tag, TagResolution resolution) {
        try (WriteBatch batch = new WriteBatch()) {
            batch.put(manifests, key(manifest.digest()), encode(manifest));
            batch.put(tags, tag.bytes(), encode(resolution));
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new MetadataException("storing manifest " + manifest.digest() + " for tag " + tag.tag(), e);
        }
    }

    @Override
    public Optional<TagResolution> tag(TagKey key) {
        byte[] value = get(tags, key.bytes());
        if (value == null) {
            return Optional.empty();
        }
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(value))) {
            in.readByte();
            Digest digest = Digest.parse(in.readUTF());
            String mediaType = in.readUTF();
            long checkedAt = in.readLong();
            return Optional.of(new TagResolution(digest, mediaType, checkedAt));
        } catch (IOException | IllegalArgumentException e) {
            throw new MetadataException("corrupt tag record for " + key, e);
        }
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
