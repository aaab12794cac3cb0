package dev.pullthrough.storage.blob;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Content-addressed blob bytes. Narrow on purpose, so an object-store implementation can sit
 * beside the file one: a blob under a digest is always complete and verified.
 */
public interface BlobStore {
    /** The committed blob with this digest, if present. */
    Optional<StoredBlob> stat(Digest digest) throws IOException;

    /** A writer into a temp location that becomes {@code expected} only on a verified commit. */
    BlobWriter newWriter(Digest expected) throws IOException;

    /**
     * A writer for a blob the upstream declared {@code declaredSize} bytes long (-1: unknown): a big
     * one may be written past the page cache, its {@link BlobWriter#written} then lagging what was appended.
     */
    default BlobWriter newWriter(Digest expected, long declaredSize) throws IOException {
        return newWriter(expected);
    }

    /** Removes the blob; false when it was not there. */
    boolean delete(Digest digest) throws IOException;

    /** Whether a blob of {@code bytes} fits on the disk now (with some room to spare). */
    boolean hasRoomFor(long bytes) throws IOException;

    /** Every committed blob (recovery, fsck). */
    void forEach(Consumer<StoredBlob> action) throws IOException;
}
