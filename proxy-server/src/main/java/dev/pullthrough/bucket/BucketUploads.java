package dev.pullthrough.bucket;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.BlobDownload;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.s3.S3Bucket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Large blobs go to the bucket as they arrive: a multipart upload follows the download's file, a
 * part of {@link #PART} bytes at a time, and is completed only once the download verified and
 * committed the blob (aborted otherwise: nothing ever appears under the key of a blob that failed or
 * whose replica died). The parts are read from a hard link of the file being written, which the
 * commit's rename and a later eviction leave in place. Smaller blobs, and any upload that fails, are
 * written whole after the commit ({@link BucketMirror}).
 */
public final class BucketUploads {
    static final long MULTIPART_FROM = 32L << 20;
    static final long PART = 16L << 20;
    private static final Logger LOG = LoggerFactory.getLogger(BucketUploads.class);

    private final S3Bucket bucket;
    private final Path linkDir;
    private final BlobPaths paths;
    /** Blobs whose way to the bucket is not the mirror's: followed here, or already shared by where they came from. */
    private final Set<Digest> claimed = ConcurrentHashMap.newKeySet();
    private final AtomicLong pending;
    private final ExecutorService reads;

    /**
     * {@code linkDir} on the blobs' file system; {@code pending} counts the writes under way with the
     * mirror's; {@code reads} reads the parts from disk.
     */
    public BucketUploads(S3Bucket bucket, Path linkDir, BlobPaths paths, AtomicLong pending, ExecutorService reads) {
        this.reads = reads;
        this.bucket = bucket;
        this.linkDir = linkDir;
        this.paths = paths;
        this.pending = pending;
    }

    /**
     * Whether a multipart upload follows this blob's download, or the blob came from the bucket or a
     * replica that writes it there: the mirror then leaves it alone.
     */
    public boolean claimed(Digest digest) {
        return claimed.contains(digest);
    }

    /** Follows {@code download} into the bucket when it is large enough. */
    public void follow(BlobDownload download) {
        download.sizeKnown().thenAccept(size -> {
            if (download.fromShared()) {
                // Read from the bucket, or from the replica that writes it there: the mirror leaves it alone too.
                if (claimed.add(download.digest())) {
                    download.finished().whenComplete((done, failed) -> claimed.remove(download.digest()));
                }
                return;
            }
            if (size >= MULTIPART_FROM) {
                new Upload(download, size).begin();
            }
        });
    }

    private final class Upload {
        private final BlobDownload download;
        private final long size;
        private final String key;
        private final Runnable listener = this::next;
        private final List<S3Bucket.Part> parts = new ArrayList<>();
        private Path link;
        private String uploadId;
        private long uploaded;
        private boolean partInFlight;
        private boolean committed;
        private boolean starting;
        private boolean over;

        Upload(BlobDownload download, long size) {
            this.download = download;
            this.size = size;
            this.key = bucket.key(S3Bucket.Kind.BLOBS, download.digest());
        }

        void begin() {
            if (!claimed.add(download.digest())) {
                return;
            }
            pending.incrementAndGet();
            download.addFileListener(listener);
            download.finished().whenComplete((done, failed) -> {
                if (failed != null) {
                    end(failed);
                } else {
                    synchronized (this) {
                        committed = true;
                    }
                    next();
                }
            });
            next();
        }

        /**
         * One step, whenever the file grew or the blob was committed: link the file once it exists,
         * start the upload, upload the next part when the file holds it (or the rest, once committed),
         * complete at the end.
         */
        private void next() {
            long from;
            long length;
            int number;
            synchronized (this) {
                if (over || partInFlight) {
                    return;
                }
                if (link == null && !linkFile()) {
                    return;
                }
                if (uploadId == null) {
                    if (!starting) {
                        starting = true;
                        bucket.startUpload(key, "application/octet-stream").whenComplete((id, failure) -> {
                            if (failure != null) {
                                end(failure);
                                return;
                            }
                            synchronized (this) {
                                uploadId = id;
                            }
                            next();
                        });
                    }
                    return;
                }
                if (committed && uploaded == size) {
                    over = true;
                    bucket.completeUpload(key, uploadId, List.copyOf(parts)).whenComplete((done, failure) -> end(failure));
                    return;
                }
                long inFile = committed ? size : download.readable();
                if (inFile - uploaded < PART && !committed) {
                    return;
                }
                from = uploaded;
                length = Math.min(PART, size - uploaded);
                number = parts.size() + 1;
                partInFlight = true;
            }
            bucket.uploadPart(key, uploadId, number, link, from, length, reads).whenComplete((part, failure) -> {
                if (failure != null) {
                    end(failure);
                    return;
                }
                synchronized (this) {
                    parts.add(part);
                    uploaded += length;
                    partInFlight = false;
                }
                next();
            });
        }

        /** Links the file being written, once it exists; false while it does not yet (or ends the upload). */
        private boolean linkFile() {
            Optional<Path> file = download.fileBeingWritten();
            if (file.isEmpty()) {
                if (committed) {
                    end(new IOException("committed before its file could be followed"));
                }
                return false;
            }
            if (!Files.exists(file.get())) {
                return false; // created with its first bytes
            }
            try {
                // In the temp directory: a link a crash leaves behind is swept at the next start.
                Path candidate = linkDir.resolve("upload-" + download.digest().hex() + "-" + System.nanoTime());
                Files.createLink(candidate, file.get());
                link = candidate;
                return true;
            } catch (IOException e) {
                end(e);
                return false;
            }
        }

        /**
         * Done, or given up. An upload that did not complete is aborted (nothing appears under the
         * key); if the blob is, or gets, committed, it is then written whole, unless the bucket holds it.
         */
        private void end(Throwable failure) {
            String id;
            synchronized (this) {
                over = true;
                id = uploadId;
            }
            download.removeFileListener(listener);
            CompletableFuture<Void> after = CompletableFuture.completedFuture(null);
            if (failure != null) {
                if (!download.finished().isCompletedExceptionally()) {
                    LOG.warn("following {} into the bucket failed; it goes whole once committed: {}", download.digest(),
                            failure.toString());
                }
                // From now on a commit is written whole by the mirror; one before it is written here.
                claimed.remove(download.digest());
                if (id != null) {
                    after = bucket.abortUpload(key, id).exceptionally(ignored -> null);
                }
                after = after.thenCompose(aborted -> download.finished().handle((done, failed) -> failed == null))
                        .thenCompose(committedBlob -> committedBlob ? writeWhole() : CompletableFuture.completedFuture(null));
            }
            if (failure == null) {
                LOG.info("{} ({} bytes) written to the bucket in {} parts as it arrived", download.digest(), size, parts.size());
            }
            after.whenComplete((done, late) -> {
                if (late != null) {
                    LOG.warn("writing {} to the bucket failed (other replicas fetch it themselves): {}", download.digest(), late.toString());
                }
                try {
                    if (link != null) {
                        Files.deleteIfExists(link);
                    }
                } catch (IOException e) {
                    LOG.debug("removing {} failed: {}", link, e.toString());
                }
                claimed.remove(download.digest());
                pending.decrementAndGet();
            });
        }

        private CompletableFuture<Void> writeWhole() {
            return bucket.size(key).thenCompose(held -> held.isPresent() ? CompletableFuture.completedFuture(null)
                    : bucket.putFile(key, paths.blob(download.digest()), "application/octet-stream"));
        }
    }
}
