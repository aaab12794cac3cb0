package dev.pullthrough.storage.blob;

import dev.pullthrough.oci.Digest;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.FileStore;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;

/** The blob store on the local file system, laid out by {@link BlobPaths}. */
public final class FileBlobStore implements BlobStore {
    private final BlobPaths paths;
    private final CommitDurability durability;
    private final DirectWrites directWrites;
    private volatile FileStore fileStore;

    /** A store that syncs each blob before its rename. */
    public FileBlobStore(BlobPaths paths) throws IOException {
        this(paths, CommitDurability.EACH_COMMIT);
    }

    public FileBlobStore(BlobPaths paths, CommitDurability durability) throws IOException {
        this(paths, durability, false);
    }

    /** @param direct whether big blobs may be written past the page cache (where the file system takes it) */
    public FileBlobStore(BlobPaths paths, CommitDurability durability, boolean direct) throws IOException {
        this.paths = paths;
        this.durability = durability;
        Files.createDirectories(paths.tmpDir());
        this.directWrites = direct ? DirectWrites.probe(paths.tmpDir()) : DirectWrites.OFF;
    }

    /** Whether big blobs are written past the page cache. */
    public boolean writesDirect() {
        return directWrites.on();
    }

    /** The commits an earlier run may not have synced (issue 28): the same markers whatever this store's durability. */
    public UnsyncedCommits unsyncedCommits() {
        return new UnsyncedCommits(paths.unsyncedDir());
    }

    @Override
    public Optional<StoredBlob> stat(Digest digest) throws IOException {
        // java.io.File answers "not there" without an exception: every cold request asks this
        // several times, and NIO's NoSuchFileException cost a stack trace each time.
        Path path = paths.blob(digest);
        File file = path.toFile();
        long size = file.length();
        if (size == 0 && !file.isFile()) {
            return Optional.empty();
        }
        return Optional.of(new StoredBlob(digest, path, size));
    }

    @Override
    public BlobWriter newWriter(Digest expected) throws IOException {
        return new BlobWriter(expected, paths.newTempFile(), paths.blob(expected), durability);
    }

    @Override
    public BlobWriter newWriter(Digest expected, long declaredSize) throws IOException {
        return new BlobWriter(expected, paths.newTempFile(), paths.blob(expected), durability,
                directWrites.forSize(declaredSize) ? directWrites : null);
    }

    @Override
    public boolean delete(Digest digest) throws IOException {
        return Files.deleteIfExists(paths.blob(digest));
    }

    /** Space kept free beyond a blob, so metadata writes and the OS still have room. */
    private static final long HEADROOM = 64L << 20;

    @Override
    public boolean hasRoomFor(long bytes) throws IOException {
        return fileStore().getUsableSpace() >= bytes + HEADROOM;
    }

    /** Looked up once: finding a path's file store reads the whole mount table. */
    private FileStore fileStore() throws IOException {
        FileStore store = fileStore;
        if (store == null) {
            store = Files.getFileStore(paths.tmpDir());
            fileStore = store;
        }
        return store;
    }

    @Override
    public void forEach(Consumer<StoredBlob> action) throws IOException {
        Path root = paths.blobsRoot();
        if (!Files.isDirectory(root)) {
            return;
        }
        try (Stream<Path> files = Files.walk(root, 3)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                if (!Files.isRegularFile(file)) {
                    continue;
                }
                Digest digest;
                try {
                    digest = Digest.parse(file.getParent().getParent().getFileName() + ":" + file.getFileName());
                } catch (IllegalArgumentException e) {
                    continue; // not a blob of ours
                }
                try {
                    action.accept(new StoredBlob(digest, file, Files.size(file)));
                } catch (NoSuchFileException e) {
                    // removed meanwhile
                }
            }
        }
    }

    /** Removes temp files left by an interrupted run; call before serving. Returns how many. */
    public int sweepTempFiles() throws IOException {
        int removed = 0;
        try (var files = Files.list(paths.tmpDir())) {
            for (Path file : (Iterable<Path>) files::iterator) {
                if (Files.deleteIfExists(file)) {
                    removed++;
                }
            }
        }
        return removed;
    }
}
