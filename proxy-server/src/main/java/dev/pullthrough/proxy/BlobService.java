package dev.pullthrough.proxy;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ByteRange;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.blob.BlobStore;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.MetadataStore;
import java.io.IOException;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * Blobs through the cache: from disk when committed, otherwise through the one {@link BlobDownload}
 * of that digest (single-flight), which every concurrent client shares. A committed blob is indexed
 * and the cache trimmed to its bound; a blob larger than the cache takes, or that the disk cannot
 * take, is passed through (no thread held for it, the downloads' rate floor applied). Blocks on the
 * disk (callers run it off the event loop), never on the upstream.
 */
public final class BlobService {
    private final BlobStore store;
    private final MetadataStore metadata;
    private final CacheJanitor janitor;
    private final BlobLeases leases;
    private final Metrics metrics;
    private final Executor downloads;
    private final Executor blocking;
    private final Clock clock;
    private final boolean offline;
    private final Map<Digest, BlobDownload> inFlight = new ConcurrentHashMap<>();
    /** Blobs passed through to a client now, held to the same rate floor as downloads. */
    private final Set<PassThrough> passingThrough = ConcurrentHashMap.newKeySet();
    private final OversizedBlobs oversized = new OversizedBlobs();
    private volatile Consumer<BlobDownload> downloadStarted = download -> { };
    private final DownloadSlots slots;

    public BlobService(BlobStore store, MetadataStore metadata, CacheJanitor janitor, BlobLeases leases, Metrics metrics,
                       Executor downloads, int maxDownloads, Executor blocking, Clock clock, boolean offline) {
        this.slots = new DownloadSlots(maxDownloads);
        this.blocking = blocking;
        this.store = store;
        this.metadata = metadata;
        this.janitor = janitor;
        this.leases = leases;
        this.metrics = metrics;
        this.downloads = downloads;
        this.clock = clock;
        this.offline = offline;
    }

    /**
     * A blob, or one range of it ({@code range} is the client's {@code Range} header): from disk,
     * from the download in flight, or from a download started now (a range of an uncached blob,
     * as lazy-pull snapshotters ask, is answered as soon as its bytes arrive). Blocks on the disk,
     * never on the upstream.
     */
    public CompletableFuture<ProxyResponse> get(Target target, Digest digest, boolean head, Optional<String> range)
            throws IOException {
        // One look at the disk serves both the repository check and the answer when nothing waited
        // in between: every request asked twice before (issue 28: a cold 1 KiB blob made three).
        Optional<StoredBlob> onDisk = store.stat(digest);
        CompletableFuture<Optional<ProxyResponse>> check = checkRepositoryHolds(target, digest, onDisk);
        if (check.isDone()) {
            return afterCheck(target, digest, head, range, check.join(), onDisk);
        }
        return check.thenComposeAsync(refused -> {
            try {
                // The upstream was asked meanwhile: the disk may have changed, look again.
                return afterCheck(target, digest, head, range, refused, store.stat(digest));
            } catch (IOException e) {
                return CompletableFuture.failedFuture(e);
            }
        }, blocking);
    }

    private CompletableFuture<ProxyResponse> afterCheck(Target target, Digest digest, boolean head, Optional<String> range,
                                                        Optional<ProxyResponse> refused, Optional<StoredBlob> onDisk)
            throws IOException {
        if (refused.isPresent()) {
            return done(refused.get());
        }
        Optional<ProxyResponse> local = fromDisk(onDisk, digest, head, range);
        metrics.cacheLookup("blob", local.isPresent());
        if (local.isPresent()) {
            return done(local.get());
        }
        if (offline) {
            return done(UpstreamErrors.error(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " is not cached and the proxy is offline"));
        }
        if (head && !inFlight.containsKey(digest)) {
            return headUpstream(target, digest);
        }
        if (oversized.contains(digest)) {
            return passThrough(target, digest, head);
        }
        Optional<BlobDownload> download = join(target, digest);
        if (download.isEmpty()) {
            // Committed between our look at the disk and the join.
            return done(fromDisk(digest, head, range).orElseGet(() -> UpstreamErrors.error(ErrorCode.BLOB_UNKNOWN,
                    "blob " + digest + " vanished")));
        }
        return download.get().started().handle((size, failure) -> failure == null
                ? done(streaming(target, download.get(), size, head, range))
                : failed(target, digest, head, failure)).thenCompose(answer -> answer);
    }

    /** A client of the download in flight, once its size is known. */
    private ProxyResponse streaming(Target target, BlobDownload download, long size, boolean head, Optional<String> range) {
        if (head) {
            return new ProxyResponse.BlobHead(download.digest(), size);
        }
        ByteRange.Resolution part = ByteRange.resolve(range, size);
        if (part instanceof ByteRange.Unsatisfiable) {
            return unsatisfiable(size);
        }
        try {
            return new ProxyResponse.BlobStream(download, size, download.openForReading(), partOf(part));
        } catch (IOException e) {
            return UpstreamErrors.error(ErrorCode.UPSTREAM_UNAVAILABLE, "fetching blob " + download.digest() + " of "
                    + target.repository() + " from upstream " + target.upstreamName() + " failed: " + e.getMessage());
        }
    }

    /**
     * A blob for another replica of the cluster: from disk, or from the download in flight (its
     * growing file, as a client of it), never from a download started for it, and only when this
     * repository holds it as far as this replica knows (fetched or linked for it). Otherwise 404:
     * the asking replica goes elsewhere. Blocks on the disk.
     */
    public CompletableFuture<ProxyResponse> forPeer(Target target, Digest digest) throws IOException {
        String what = "blob " + digest + " of " + target.repository();
        BlobDownload running = inFlight.get(digest);
        boolean linked = metadata.linked(target.upstreamName(), target.repository().value(), digest);
        if (running != null && (linked || running.fetchedFor(target))) {
            return running.started().handle((size, failure) -> failure == null
                    ? streaming(target, running, size, false, Optional.empty())
                    : UpstreamErrors.error(ErrorCode.BLOB_UNKNOWN, what + " failed here: " + failure.getMessage()));
        }
        if (!linked) {
            return done(UpstreamErrors.error(ErrorCode.BLOB_UNKNOWN, what + " is not known here"));
        }
        return done(fromDisk(digest, false, Optional.empty())
                .orElseGet(() -> UpstreamErrors.error(ErrorCode.BLOB_UNKNOWN, what + " is not cached here")));
    }

    /** The download could not start: the upstream's refusal, or the disk's (then this client gets a pass-through). */
    private CompletableFuture<ProxyResponse> failed(Target target, Digest digest, boolean head, Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof UpstreamStatusException) {
            return done(((UpstreamStatusException) cause).response());
        }
        if (cause instanceof StorageUnavailableException) {
            if (cause instanceof BlobNotAdmittedException) {
                oversized.add(digest);
            } else {
                metrics.storageWriteFailure();
            }
            return passThrough(target, digest, head);
        }
        return done(UpstreamErrors.error(ErrorCode.UPSTREAM_UNAVAILABLE, "fetching blob " + digest + " of "
                + target.repository() + " from upstream " + target.upstreamName() + " failed: " + cause.getMessage()));
    }

    /**
     * Makes sure a blob is committed to the cache (prefetch): from disk if there, otherwise through
     * the shared download, waiting for its end. Returns the blob's size.
     */
    public long ensureCached(Target target, Digest digest) throws IOException {
        Optional<ProxyResponse> refused = checkRepositoryHolds(target, digest).join();
        if (refused.isPresent()) {
            throw new IOException("blob " + digest + " is not in " + target.repository() + " upstream");
        }
        Optional<StoredBlob> stored = store.stat(digest);
        if (stored.isPresent()) {
            janitor.accessed(digest);
            return stored.get().size();
        }
        if (offline) {
            throw new IOException("blob " + digest + " is not cached and the proxy is offline");
        }
        if (oversized.contains(digest)) {
            throw new IOException("blob " + digest + " of " + target.repository()
                    + " is larger than one blob may take of the cache (half of storage.maxSize): it is only passed through");
        }
        Optional<BlobDownload> download = join(target, digest);
        if (download.isEmpty()) {
            return store.stat(digest).map(StoredBlob::size).orElseThrow(() -> new IOException("blob " + digest + " vanished"));
        }
        try {
            return download.get().done().get().size();
        } catch (ExecutionException e) {
            throw new IOException("fetching blob " + digest + " of " + target.repository() + " failed: "
                    + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted fetching blob " + digest, e);
        }
    }

    /** Tells {@code observer} of every download as it starts (the shared bucket follows large ones). */
    public void observeDownloads(Consumer<BlobDownload> observer) {
        downloadStarted = observer;
    }

    /** How many upstream blob transfers run now: downloads into the cache and pass-throughs beside it. */
    public long downloadsInFlight() {
        return inFlight.size() + passingThrough.size();
    }

    /** The downloads running now, largest first. */
    public List<DownloadProgress> downloads() {
        return inFlight.values().stream().map(BlobDownload::progress)
                .sorted(Comparator.comparingLong(DownloadProgress::size).reversed()).toList();
    }

    /**
     * Aborts downloads and pass-throughs whose upstream sends slower than its {@code blobMinRate};
     * call periodically.
     */
    public void abortSlowDownloads() {
        long now = System.nanoTime();
        for (BlobDownload download : inFlight.values()) {
            download.abortIfTooSlow(now);
        }
        for (PassThrough passThrough : passingThrough) {
            passThrough.abortIfTooSlow(now);
        }
    }

    /** The download of {@code digest}, started if none runs; empty when the blob got committed meanwhile. */
    private Optional<BlobDownload> join(Target target, Digest digest) {
        BlobDownload[] created = new BlobDownload[1];
        BlobDownload download = inFlight.compute(digest, (d, existing) -> {
            // One that failed is on its way out (its end removes it): a client joining it would get
            // what it held and a cut, or nothing at all (a peer it streamed from died). A new one starts.
            if (existing != null && existing.failure() == null) {
                return existing;
            }
            try {
                if (store.stat(d).isPresent()) {
                    return null;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Runnable lease = leases.acquire(d);
            created[0] = new BlobDownload(target, d, store, new SerialExecutor(downloads), new SerialExecutor(downloads), janitor,
                    new IndexRecords(target, d), () -> {
                        inFlight.remove(d, created[0]); // not the one that may have replaced it
                        lease.run();
                        slots.release();
                    });
            return created[0];
        });
        if (created[0] != null) {
            downloadStarted.accept(created[0]);
            slots.whenFree(created[0]::start);
        }
        return Optional.ofNullable(download);
    }

    /**
     * A blob cached (or being downloaded) for another repository is served for this one only once
     * the upstream says this repository holds it ({@code HEAD}, no download), so a private
     * repository's layers never leak through the shared cache. Empty when the request may go on:
     * linked, not cached nor downloading (the upstream decides anyway), offline, or the upstream
     * cannot be reached (availability over the check).
     */
    private CompletableFuture<Optional<ProxyResponse>> checkRepositoryHolds(Target target, Digest digest) throws IOException {
        return checkRepositoryHolds(target, digest, store.stat(digest));
    }

    private CompletableFuture<Optional<ProxyResponse>> checkRepositoryHolds(Target target, Digest digest,
                                                                            Optional<StoredBlob> onDisk) {
        BlobDownload running = inFlight.get(digest);
        if (onDisk.isEmpty() && (running == null || running.fetchedFor(target))) {
            // Not cached, or being fetched for this very repository: the upstream decides (decided) anyway.
            return CompletableFuture.completedFuture(Optional.empty());
        }
        // Cached, or downloading for some repository: joining that download is serving it, and needs the same check.
        return RepositoryLinks.check(metadata, target, digest, offline,
                () -> target.upstream().headBlob(target.repository(), digest),
                ErrorCode.BLOB_UNKNOWN, "blob " + digest + " of " + target.repository(), blocking);
    }

    /**
     * What one download records: the link of its repository and the blob's index entry (its
     * reservation then becomes what the janitor counts).
     */
    private final class IndexRecords implements BlobDownload.Records {
        private final Target target;
        private final Digest digest;

        IndexRecords(Target target, Digest digest) {
            this.target = target;
            this.digest = digest;
        }

        /**
         * The upstream's 200 vouches that this repository holds the blob: linked then, not at the
         * commit, so a crash between the file's rename and the index write cannot leave a large
         * cached blob that its own repository must ask the upstream about again.
         */
        @Override
        public void held() {
            metadata.link(target.upstreamName(), target.repository().value(), digest);
        }

        @Override
        public void committed(StoredBlob blob) {
            metadata.putBlob(blob.digest(), blob.size(), clock.millis());
        }

        /**
         * A small blob is committed a moment after its 200: one write for both records. A crash
         * between its rename and that write costs its repository one HEAD upstream later, not a download.
         */
        @Override
        public void heldAndCommitted(StoredBlob blob) {
            metadata.putLinkedBlob(target.upstreamName(), target.repository().value(), blob.digest(), blob.size(), clock.millis());
        }
    }

    private Optional<ProxyResponse> fromDisk(Digest digest, boolean head, Optional<String> range) throws IOException {
        return fromDisk(store.stat(digest), digest, head, range);
    }

    /** The answer from {@code blob}, what a look at the disk just found (if the file went since, empty). */
    private Optional<ProxyResponse> fromDisk(Optional<StoredBlob> blob, Digest digest, boolean head, Optional<String> range)
            throws IOException {
        if (blob.isEmpty()) {
            return Optional.empty();
        }
        janitor.accessed(digest);
        if (head) {
            return Optional.of(new ProxyResponse.BlobHead(digest, blob.get().size()));
        }
        ByteRange.Resolution part = ByteRange.resolve(range, blob.get().size());
        if (part instanceof ByteRange.Unsatisfiable) {
            return Optional.of(unsatisfiable(blob.get().size()));
        }
        Runnable lease = leases.acquire(digest);
        try {
            FileChannel channel = FileChannel.open(blob.get().path(), StandardOpenOption.READ);
            return Optional.of(new ProxyResponse.BlobFile(blob.get(), channel, partOf(part), lease));
        } catch (NoSuchFileException e) {
            lease.run();
            return Optional.empty();
        }
    }

    /**
     * The cache does not take this blob: this client gets its own stream straight from the upstream
     * (no sharing, no Range), so the pull still succeeds; without a declared length it goes to the
     * client without one too.
     */
    private CompletableFuture<ProxyResponse> passThrough(Target target, Digest digest, boolean head) {
        if (head) {
            return headUpstream(target, digest);
        }
        String what = "blob " + digest + " of " + target.repository();
        return target.upstream().blob(target.repository(), digest).thenApply(answer -> {
            if (answer instanceof UpstreamResult.Refused<BlobBody> refused) {
                return UpstreamErrors.forRefusal(refused.refusal(), ErrorCode.BLOB_UNKNOWN, what, target.upstreamName());
            }
            BlobBody body = ((UpstreamResult.Ok<BlobBody>) answer).value();
            PassThrough[] registered = new PassThrough[1];
            registered[0] = new PassThrough(target, digest, body, () -> passingThrough.remove(registered[0]));
            passingThrough.add(registered[0]);
            return new ProxyResponse.BlobPassThrough(registered[0]);
        });
    }

    private static Optional<ByteRange> partOf(ByteRange.Resolution resolution) {
        return resolution instanceof ByteRange.Part ? Optional.of(((ByteRange.Part) resolution).range()) : Optional.empty();
    }

    private static ProxyResponse unsatisfiable(long size) {
        return new ProxyResponse.Error(new ApiError(ErrorCode.RANGE_INVALID, "the requested range is not within the blob's "
                + size + " bytes"), Map.of("Content-Range", "bytes */" + size));
    }

    /** {@code HEAD} of an uncached blob asks the upstream with {@code HEAD} only: no download. */
    private CompletableFuture<ProxyResponse> headUpstream(Target target, Digest digest) {
        String what = "blob " + digest + " of " + target.repository();
        return target.upstream().headBlob(target.repository(), digest).thenApplyAsync(answer -> {
            if (answer instanceof UpstreamResult.Refused<Long> refused) {
                return UpstreamErrors.forRefusal(refused.refusal(), ErrorCode.BLOB_UNKNOWN, what, target.upstreamName());
            }
            metadata.link(target.upstreamName(), target.repository().value(), digest);
            return new ProxyResponse.BlobHead(digest, ((UpstreamResult.Ok<Long>) answer).value());
        }, blocking);
    }

    private static CompletableFuture<ProxyResponse> done(ProxyResponse response) {
        return CompletableFuture.completedFuture(response);
    }
}
