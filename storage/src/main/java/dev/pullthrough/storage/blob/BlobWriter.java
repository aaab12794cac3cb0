package dev.pullthrough.storage.blob;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;

/**
 * Writes one blob into a temp file while hashing it; {@link #commit()} checks the digest, makes the
 * bytes durable or records them as owed ({@link CommitDurability}) and renames atomically, so
 * nothing partial or wrong ever appears under a digest. Single writer;
 * readers of the growing temp file use {@link #tempFile()} and {@link #written()}. The file and the
 * hash may be fed on two threads ({@link #append} and {@link #hash}, each in order), so that neither
 * waits for the other; {@link #verify()} comes after both have seen every byte.
 */
public final class BlobWriter implements AutoCloseable {
    private final Digest expected;
    private final Path temp;
    private final Path target;
    private final FileChannel channel;
    /** Set when the file is written direct (a big blob): then {@link #written} counts what is in the file, not what was appended. */
    private final DirectAppender direct;
    private final MessageDigest hasher;
    private final CommitDurability durability;
    private volatile long written;
    private boolean pageCacheFromNowOn;
    private boolean finished;
    private boolean verified;

    BlobWriter(Digest expected, Path temp, Path target, CommitDurability durability) throws IOException {
        this(expected, temp, target, durability, null);
    }

    BlobWriter(Digest expected, Path temp, Path target, CommitDurability durability, DirectWrites directWrites) throws IOException {
        this.expected = expected;
        this.durability = durability;
        this.temp = temp;
        this.target = target;
        ensureDirectory(temp.getParent());
        if (directWrites != null) {
            this.direct = new DirectAppender(temp, directWrites);
            this.channel = direct.channel();
        } else {
            this.direct = null;
            this.channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        }
        this.hasher = expected.newHasher();
    }

    /** Appends all of {@code bytes} to the file and the hash (consumed). */
    public void write(ByteBuffer bytes) throws IOException {
        hash(bytes.duplicate());
        append(bytes);
    }

    /**
     * Appends all of {@code bytes} to the file only (consumed); the same bytes go to {@link #hash}.
     * Written direct, the last bytes appended may wait in memory for a whole stage: {@link #written}
     * says what is in the file.
     */
    public void append(ByteBuffer bytes) throws IOException {
        if (direct != null) {
            direct.append(bytes);
            written = direct.inFile();
            return;
        }
        while (bytes.hasRemaining()) {
            channel.write(bytes);
        }
        written = channel.position();
    }

    /** Bytes given to {@link #append}, in the file or not yet. */
    public long appended() {
        return direct != null ? direct.appended() : written;
    }

    /** Whether the file is written past the page cache (and {@link #written} may lag {@link #appended}). */
    public boolean direct() {
        return direct != null && !pageCacheFromNowOn;
    }

    /**
     * Writes the rest of the file through the page cache (staged bytes included, so {@link #written}
     * catches up with {@link #appended}): several clients follow this download, and those that fall
     * behind memory read the file. Nothing for a writer that never wrote direct.
     */
    public void toPageCache() throws IOException {
        if (direct != null && !pageCacheFromNowOn) {
            direct.toPageCache();
            pageCacheFromNowOn = true;
            written = direct.inFile();
        }
    }

    /**
     * Puts every byte appended into the file: a direct writer's last partial stage. Called by the
     * writing thread after its last append; {@link #commit} does it too.
     */
    public void flush() throws IOException {
        if (direct != null) {
            direct.finish();
            written = direct.inFile();
        }
    }

    /** Adds {@code bytes} to the hash only (consumed); the same bytes go to {@link #append}. */
    public void hash(ByteBuffer bytes) {
        hasher.update(bytes);
    }

    public long written() {
        return written;
    }

    public Path tempFile() {
        return temp;
    }

    /** Where the blob is once committed. */
    public Path targetFile() {
        return target;
    }

    /**
     * Checks the bytes against the expected digest, without publishing them yet: readers of the
     * temp file may hand out the last bytes as soon as this passed.
     *
     * @throws DigestMismatchException when the bytes do not hash to the expected digest (the temp file is removed)
     */
    public void verify() throws IOException {
        if (!verified) {
            if (!expected.matches(hasher)) {
                abort();
                throw new DigestMismatchException("bytes of " + expected + " hash to something else (" + written + " bytes)");
            }
            verified = true;
        }
    }

    /**
     * Verifies (if not done yet), syncs or records the bytes as owed to the disk, and atomically
     * renames the blob under its digest.
     */
    public StoredBlob commit() throws IOException {
        verify();
        flush();
        finished = true;
        try {
            durability.beforeRename(expected, target, written, channel);
            boolean renamed = false;
            try {
                channel.close();
                ensureDirectory(target.getParent());
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                renamed = true;
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("the blob directory does not support atomic renames", e);
            } finally {
                durability.afterRename(expected, renamed);
            }
            return new StoredBlob(expected, target, written);
        } finally {
            abortQuietly();
            releaseStage();
        }
    }

    /**
     * Gives a direct writer's staging buffer back for reuse. Only the writing thread may call it (a
     * buffer another writer takes must not still be written into); a writer aborted from elsewhere
     * simply leaves its buffer to the garbage collector.
     */
    public void releaseStage() {
        if (direct != null) {
            direct.release();
        }
    }

    /** Nearly always there already: asking first spares the exception that creating it would throw. */
    private static void ensureDirectory(Path directory) throws IOException {
        if (!Files.isDirectory(directory)) {
            Files.createDirectories(directory);
        }
    }

    /** Drops the temp file; harmless after a commit. */
    public void abort() {
        finished = true;
        abortQuietly();
    }

    private void abortQuietly() {
        if (direct != null) {
            direct.closeBuffered();
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a file we are deleting
        }
        try {
            Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // swept at the next start-up
        }
    }

    @Override
    public void close() {
        if (!finished) {
            abort();
        }
    }
}
