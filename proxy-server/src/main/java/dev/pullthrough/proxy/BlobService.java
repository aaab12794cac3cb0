package dev.pullthrough.proxy;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ByteRange;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.blob.BlobStore;
import dev.pullthrough.storage.blob.StoredBlob;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;

/**
 * Blobs through the cache: from disk when committed, otherwise through the one {@link BlobDownload}
 * of that digest (single-flight), which every concurrent client shares. Blocking; runs off the event loop.
 */
public final class BlobService {
    private final BlobStore store;
    private final Metrics metrics;
    private final Executor downloads;
    private final boolean offline;
    private final Map<Digest, BlobDownload> inFlight = new ConcurrentHashMap<>();

    public BlobService(BlobStore store, Metrics metrics, Executor downloads, boolean offline) {
        this.store = store;
        this.metrics = metrics;
        this.downloads = downloads;
        this.offline = offline;
    }

    /** Aborts downloads whose upstream went silent for {@code idle}; call periodically. */
    public void abortStalledDownloads(java.time.Duration idle) {
        long now = System.nanoTime();
        for (BlobDownload download : inFlight.values()) {
            download.abortIfStalled(now, idle);
        }
    }

    /**
     * A blob, or one range of it ({@code range} is the client's {@code Range} header): from disk,
     * from the download in flight, or from a download started now (a range of an uncached blob,
     * as lazy-pull snapshotters ask, is answered as soon as its bytes arrive).
     */
    public ProxyResponse get(Target target, Digest digest, boolean head, Optional<String> range) throws IOException {
        Optional<ProxyResponse> local = fromDisk(digest, head, range);
        metrics.cacheLookup("blob", local.isPresent());
        if (local.isPresent()) {
            return local.get();
        }
        if (offline) {
            return UpstreamErrors.error(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " is not cached and the proxy is offline");
        }
        if (head && !inFlight.containsKey(digest)) {
            return headUpstream(target, digest);
        }
        Optional<BlobDownload> download = join(target, digest);
        if (download.isEmpty()) {
            // Committed between our look at the disk and the join.
            return fromDisk(digest, head, range).orElseGet(() -> UpstreamErrors.error(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " vanished"));
        }
        long size;
        try {
            size = download.get().started().get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof UpstreamStatusException) {
                return ((UpstreamStatusException) cause).response();
            }
            return UpstreamErrors.forFailure(cause, "blob " + digest + " of " + target.repository(), target.upstreamName());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for blob " + digest, e);
        }
        if (head) {
            return new ProxyResponse.BlobHead(digest, size);
        }
        ByteRange.Resolution part = ByteRange.resolve(range, size);
        if (part instanceof ByteRange.Unsatisfiable) {
            return unsatisfiable(size);
        }
        try {
            return new ProxyResponse.BlobStream(download.get(), size, download.get().openForReading(), partOf(part));
        } catch (IOException e) {
            return UpstreamErrors.forFailure(e, "blob " + digest + " of " + target.repository(), target.upstreamName());
        }
    }

    /** The download of {@code digest}, started if none runs; empty when the blob got committed meanwhile. */
    private Optional<BlobDownload> join(Target target, Digest digest) {
        BlobDownload[] created = new BlobDownload[1];
        BlobDownload download = inFlight.compute(digest, (d, existing) -> {
            if (existing != null) {
                return existing;
            }
            try {
                if (store.stat(d).isPresent()) {
                    return null;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            created[0] = new BlobDownload(target, d, store, () -> inFlight.remove(d));
            return created[0];
        });
        if (created[0] != null) {
            downloads.execute(created[0]);
        }
        return Optional.ofNullable(download);
    }

    private Optional<ProxyResponse> fromDisk(Digest digest, boolean head, Optional<String> range) throws IOException {
        Optional<StoredBlob> blob = store.stat(digest);
        if (blob.isEmpty()) {
            return Optional.empty();
        }
        if (head) {
            return Optional.of(new ProxyResponse.BlobHead(digest, blob.get().size()));
        }
        ByteRange.Resolution part = ByteRange.resolve(range, blob.get().size());
        if (part instanceof ByteRange.Unsatisfiable) {
            return Optional.of(unsatisfiable(blob.get().size()));
        }
        try {
            FileChannel channel = FileChannel.open(blob.get().path(), StandardOpenOption.READ);
            return Optional.of(new ProxyResponse.BlobFile(blob.get(), channel, partOf(part)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    private static Optional<ByteRange> partOf(ByteRange.Resolution resolution) {
        return resolution instanceof ByteRange.Part ? Optional.of(((ByteRange.Part) resolution).range()) : Optional.empty();
    }

    private static ProxyResponse unsatisfiable(long size) {
        return new ProxyResponse.Error(new ApiError(ErrorCode.RANGE_INVALID, "the requested range is not within the blob's "
                + size + " bytes"), Map.of("Content-Range", "bytes */" + size));
    }

    /** {@code HEAD} of an uncached blob asks the upstream with {@code HEAD} only: no download. */
    private ProxyResponse headUpstream(Target target, Digest digest) {
        String what = "blob " + digest + " of " + target.repository();
        try {
            HttpResponse<Void> response = target.upstream().headBlob(target.repository(), digest);
            if (response.statusCode() != 200) {
                return UpstreamErrors.forStatus(response.statusCode(), response.headers(), ErrorCode.BLOB_UNKNOWN, what, target.upstreamName());
            }
            long size = response.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (size < 0) {
                return UpstreamErrors.error(ErrorCode.UPSTREAM_UNAVAILABLE, "upstream sent no Content-Length for " + what);
            }
            return new ProxyResponse.BlobHead(digest, size);
        } catch (IOException | CompletionException e) {
            return UpstreamErrors.forFailure(e, what, target.upstreamName());
        }
    }
}
