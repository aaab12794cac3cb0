package dev.pullthrough.storage.maintenance;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobWriter;
import dev.pullthrough.storage.blob.FileBlobStore;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Blob files written the way a download commits them, for the maintenance tests. */
final class BlobFiles {
    private BlobFiles() {}

    static Digest write(FileBlobStore blobs, byte[] bytes) throws IOException {
        Digest digest = Digest.sha256Of(bytes);
        try (BlobWriter writer = blobs.newWriter(digest)) {
            writer.write(ByteBuffer.wrap(bytes));
            writer.commit();
        }
        return digest;
    }

    static Digest write(FileBlobStore blobs, String text) throws IOException {
        return write(blobs, text.getBytes(StandardCharsets.UTF_8));
    }
}
