package dev.pullthrough.storage.blob;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * When a committed blob's bytes reach the disk: synced before its rename ({@link #EACH_COMMIT}), or
 * later in batches ({@link BatchedSync}), the commits in between being known to a start after a crash.
 */
public interface CommitDurability {
    /**
     * Called with the verified, fully written temp file just before it is renamed to {@code target}.
     * Returning normally promises that a crash after the rename cannot leave {@code target} torn
     * unnoticed: either its bytes are on the disk, or the commit is recorded as not yet durable.
     */
    void beforeRename(Digest digest, Path target, long size, FileChannel written) throws IOException;

    /** Called after the rename ({@code renamed}) or after it failed; ends what {@link #beforeRename} began. */
    void afterRename(Digest digest, boolean renamed);

    /** The fsync per commit: the blob is durable before anyone can see it, and the download waits for the disk. */
    CommitDurability EACH_COMMIT = new CommitDurability() {
        @Override
        public void beforeRename(Digest digest, Path target, long size, FileChannel written) throws IOException {
            written.force(true);
        }

        @Override
        public void afterRename(Digest digest, boolean renamed) {
            // nothing owed
        }
    };
}
