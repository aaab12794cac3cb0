package dev.pullthrough.bucket;

import java.time.Instant;

/**
 * One retention pass over the bucket, as the status page and the log report it: when it ended, which
 * replica ran it, the objects (blobs, manifests, repository links) and bytes it deleted, the objects
 * it kept, and the unfinished multipart uploads it aborted.
 */
public record RetentionPass(Instant at, String replica, long deletedObjects, long deletedBytes, long keptObjects,
                            long uploadsAborted) {
    /** As Redis keeps it: one line of space-separated fields, the replica (which may hold spaces) last. */
    public String encode() {
        return at.toEpochMilli() + " " + deletedObjects + " " + deletedBytes + " " + keptObjects + " " + uploadsAborted + " " + replica;
    }

    public static RetentionPass decode(String text) {
        String[] parts = text.split(" ", 6);
        return new RetentionPass(Instant.ofEpochMilli(Long.parseLong(parts[0])), parts[5], Long.parseLong(parts[1]),
                Long.parseLong(parts[2]), Long.parseLong(parts[3]), Long.parseLong(parts[4]));
    }
}
