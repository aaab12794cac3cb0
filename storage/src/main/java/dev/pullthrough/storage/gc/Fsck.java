package dev.pullthrough.storage.gc;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * Re-hashes every cached blob and manifest against its digest and removes those that do not match,
 * after the same repair start-up does (temp files, index entries without files).
 */
public final class Fsck {
    /** What fsck checked and what it removed. */
    public record Report(int blobsChecked, long bytesChecked, int manifestsChecked, List<String> bad,
                         StartupRecovery.Report recovery) {
        public boolean clean() {
            return bad.isEmpty();
        }
    }

    private Fsck() {}

    public static Report run(FileBlobStore blobs, MetadataStore metadata) throws IOException {
        StartupRecovery.Report recovery = StartupRecovery.run(blobs, metadata);
        List<StoredBlob> all = new ArrayList<>();
        blobs.forEach(all::add);
        List<String> bad = new ArrayList<>();
        long bytes = 0;
        for (StoredBlob blob : all) {
            bytes += blob.size();
            if (!hashMatches(blob)) {
                bad.add("blob " + blob.digest() + " (" + blob.size() + " bytes) does not match its digest; removed");
                metadata.removeBlob(blob.digest());
                blobs.delete(blob.digest());
            }
        }
        List<StoredManifest> manifests = new ArrayList<>();
        metadata.forEachManifest(manifests::add);
        for (StoredManifest manifest : manifests) {
            if (!manifest.digest().matches(manifest.bytes())) {
                bad.add("manifest " + manifest.digest() + " does not match its digest; removed");
                metadata.removeManifest(manifest.digest());
            }
        }
        return new Report(all.size(), bytes, manifests.size(), bad, recovery);
    }

    private static boolean hashMatches(StoredBlob blob) throws IOException {
        Digest digest = blob.digest();
        MessageDigest hasher = digest.newHasher();
        ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel channel = FileChannel.open(blob.path(), StandardOpenOption.READ)) {
            while (channel.read(buffer) >= 0) {
                buffer.flip();
                hasher.update(buffer);
                buffer.clear();
            }
        }
        return digest.matches(hasher);
    }
}
