package dev.pullthrough.storage.maintenance;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BatchedSync;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.storage.meta.MetadataStore;
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
        // Markers of commits an unclean stop left unsynced are settled here as a start would (issue 28).
        UnsyncedRecovery.run(blobs, metadata, BatchedSync.FileSync.FORCE);
        StartupRecovery.Report recovery = StartupRecovery.run(blobs, metadata);
        // Streams over blobs and manifests, keeping only what is bad: the cache may hold millions.
        List<String> bad = new ArrayList<>();
        List<StoredBlob> badBlobs = new ArrayList<>();
        long[] checked = {0, 0};
        ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20); // one for all: blobs are often tiny
        IOException[] failed = {null};
        blobs.forEach(blob -> {
            checked[0]++;
            checked[1] += blob.size();
            try {
                if (failed[0] == null && !hashMatches(blob, buffer)) {
                    badBlobs.add(blob);
                }
            } catch (IOException e) {
                failed[0] = e;
            }
        });
        if (failed[0] != null) {
            throw failed[0];
        }
        for (StoredBlob blob : badBlobs) {
            bad.add("blob " + blob.digest() + " (" + blob.size() + " bytes) does not match its digest; removed");
            metadata.removeBlob(blob.digest());
            blobs.delete(blob.digest());
        }
        List<Digest> badManifests = new ArrayList<>();
        int[] manifests = {0};
        metadata.forEachManifest(manifest -> {
            manifests[0]++;
            if (!manifest.digest().matches(manifest.bytes())) {
                badManifests.add(manifest.digest());
            }
        });
        for (Digest digest : badManifests) {
            bad.add("manifest " + digest + " does not match its digest; removed");
            metadata.removeManifest(digest);
        }
        return new Report((int) checked[0], checked[1], manifests[0], bad, recovery);
    }

    static boolean hashMatches(StoredBlob blob, ByteBuffer buffer) throws IOException {
        Digest digest = blob.digest();
        MessageDigest hasher = digest.newHasher();
        buffer.clear();
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
