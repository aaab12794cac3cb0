package dev.pullthrough.app;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.cluster.Cluster;
import dev.pullthrough.config.ConfigException;
import dev.pullthrough.config.PullthroughConfig;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.proxy.BlobLeases;
import dev.pullthrough.proxy.BlobService;
import dev.pullthrough.proxy.ImageReference;
import dev.pullthrough.proxy.KeepWarm;
import dev.pullthrough.proxy.ListingService;
import dev.pullthrough.proxy.ManifestAdmission;
import dev.pullthrough.proxy.ManifestService;
import dev.pullthrough.admin.StatusReport;
import dev.pullthrough.inventory.CacheAdmin;
import dev.pullthrough.inventory.CacheInventory;
import dev.pullthrough.inventory.CachePurge;
import dev.pullthrough.proxy.Prefetcher;
import dev.pullthrough.proxy.PullCounts;
import dev.pullthrough.proxy.SharedTags;
import dev.pullthrough.proxy.UpstreamRouter;
import dev.pullthrough.proxy.BlobRedirects;
import dev.pullthrough.bucket.BucketFirstUpstream;
import dev.pullthrough.bucket.BucketMirror;
import dev.pullthrough.bucket.BucketRedirects;
import dev.pullthrough.bucket.BucketRetention;
import dev.pullthrough.bucket.RetentionPass;
import dev.pullthrough.bucket.UseRecording;
import dev.pullthrough.config.S3Config;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.maintenance.StartupRecovery;
import dev.pullthrough.storage.maintenance.UnsyncedRecovery;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.upstream.BodyBudget;
import dev.pullthrough.upstream.FallbackUpstream;
import dev.pullthrough.upstream.Upstream;
import dev.pullthrough.upstream.UpstreamCheck;
import dev.pullthrough.upstream.UpstreamChecks;
import dev.pullthrough.upstream.UpstreamClient;
import dev.pullthrough.upstream.UpstreamProbe;
import dev.pullthrough.upstream.auth.TokenCache;
import dev.pullthrough.upstream.http.ClientLoops;
import dev.pullthrough.layout.OciLayoutExporter;
import dev.pullthrough.layout.OciLayoutImporter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything but the listeners: the opened storage, the upstream clients and the pull-through
 * services, with their threads. {@code serve} puts a server in front; {@code prefetch} drives it
 * directly. Built with plain constructors; closed in reverse order, RocksDB last.
 */
public final class ProxyCore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyCore.class);
    /** Threads that may block on disk, RocksDB or an upstream's answer, so the event loops never do. */
    public static final int BLOCKING_THREADS = 64;
    /** Upstream blob downloads at once; further ones queue. */
    private static final int MAX_DOWNLOADS = 32;
    /** Threads that write and hash downloads (they wait on the disk only, never on the network). */
    private static final int DOWNLOAD_WRITERS = 8;
    /** How long a shutdown waits for downloads to end before aborting them. */
    static final Duration DOWNLOAD_DRAIN = Duration.ofSeconds(2);
    /** Memory for hot manifests and tag resolutions in front of RocksDB. */
    private static final long HOT_MANIFEST_BYTES = 32L << 20;
    /** Tag resolutions in memory, by bytes (about 40,000 typical ones); repository links take half as much more. */
    private static final long HOT_TAG_BYTES = 16L << 20;

    final PullthroughConfig config;
    final Storage storage;
    final Metrics metrics;
    final Clock clock = Clock.systemUTC();
    final ExecutorService blocking = Executors.newFixedThreadPool(BLOCKING_THREADS, named("blocking"));
    final ExecutorService downloads = Executors.newFixedThreadPool(DOWNLOAD_WRITERS, named("download"));
    final ClientLoops upstreamLoops;
    final ScheduledExecutorService housekeeping = Executors.newSingleThreadScheduledExecutor(named("housekeeping"));
    /** Eviction passes that downloads start: on a thread of their own, not behind a pass over the whole cache. */
    final ExecutorService evictions = Executors.newSingleThreadExecutor(named("eviction"));
    final MetadataStore metadata;
    final CacheJanitor janitor;
    final UpstreamRouter router;
    final BlobService blobs;
    final ManifestAdmission admission;
    final ManifestService manifests;
    final ListingService listings;
    final Prefetcher prefetcher;
    final PullCounts pulls = new PullCounts();
    final CacheAdmin cacheAdmin;
    /** Keep-warm runs, on a thread of their own: a run may download whole images. */
    final ScheduledExecutorService warming = Executors.newSingleThreadScheduledExecutor(named("keep-warm"));
    /**
     * Admin prefetches, each waiting on its upstream as long as that takes: threads of their own, so
     * that however many run, the workers stay free for pulls and other admin requests (issue 29).
     */
    final ExecutorService prefetching = Executors.newCachedThreadPool(named("prefetch"));
    final Optional<KeepWarm> keepWarm;
    final Optional<S3Bucket> bucket;
    final Optional<BucketMirror> mirror;
    /** {@code cluster}: the replicas fetch each blob and resolve each tag once between them. */
    final Optional<Cluster> cluster;
    /** {@code storage.s3.retention}: the pass that deletes what no replica used for that long (issue 30). */
    final Optional<BucketRetention> retention;
    /** With retention: every use of a blob or manifest recorded for the pass. */
    final Optional<UseRecording> useRecording;
    /** Retention passes, on a thread of their own: a pass lists the whole bucket. */
    final ScheduledExecutorService retentionPasses = Executors.newSingleThreadScheduledExecutor(named("bucket-retention"));
    /** Where the upstream checks look names up (issue 27): that blocks, so never on an event loop. */
    final ExecutorService upstreamLookups = Executors.newCachedThreadPool(named("upstream-dns"));
    /** Starts the background upstream checks when due; the checks themselves are asynchronous. */
    final ScheduledExecutorService checking = Executors.newSingleThreadScheduledExecutor(named("upstream-check"));
    /** The last connectivity check of each upstream (GET /upstreams.json, the status page). */
    final UpstreamChecks upstreamChecks;

    private ProxyCore(PullthroughConfig config, Storage storage, Metrics metrics, ClientLoops upstreamLoops,
                      List<UpstreamClient> upstreams, List<ImageReference> warmImages) {
        this.upstreamLoops = upstreamLoops;
        this.config = config;
        this.storage = storage;
        this.metrics = metrics;
        // storage.s3: what this replica stores goes to the bucket too, and what it lacks by digest is
        // read from there before the upstream is asked.
        bucket = config.storage().s3().map(S3Bucket::open);
        mirror = bucket.map(b -> new BucketMirror(storage.metadata, b, storage.paths, blocking));
        cluster = config.cluster().map(c -> {
            try {
                return Cluster.join(c, upstreamLoops, metrics);
            } catch (IOException e) {
                throw new UncheckedIOException("joining the cluster failed: " + e.getMessage(), e);
            }
        });
        router = new UpstreamRouter(upstreams.stream().map(client -> {
            // Innermost, so that the bucket is read before any source is asked and a cluster's one
            // download of a digest is the one that falls back (issue 27). The sources are the other
            // upstreams' own clients, unwrapped: their fallbacks are not followed.
            Upstream upstream = FallbackUpstream.around(client, upstreams, metrics);
            if (bucket.isPresent()) {
                upstream = new BucketFirstUpstream(upstream, bucket.get());
            }
            if (cluster.isPresent()) {
                upstream = cluster.get().coordinated(upstream);
            }
            return upstream;
        }).toList());
        retention = config.storage().s3().flatMap(S3Config::retention).flatMap(keep -> cluster.map(c -> new BucketRetention(
                bucket.orElseThrow(), keep, c.retention(), c.retention(), clock, c.self(),
                pass -> metrics.bucketRetentionPass(pass.deletedObjects(), pass.deletedBytes(), pass.uploadsAborted()))));
        MetadataStore shared = mirror.<MetadataStore>map(m -> m).orElse(storage.metadata);
        // Every use of a blob or manifest is recorded for the retention pass (at most hourly per digest).
        useRecording = retention.map(r -> new UseRecording(shared, cluster.orElseThrow().retention(), clock));
        retention.ifPresent(pass -> metrics.bucketRetentionSeries(
                () -> pass.lastKnownPass().map(RetentionPass::keptObjects).orElse(0L)));
        CachedMetadataStore cached = new CachedMetadataStore(useRecording.<MetadataStore>map(r -> r).orElse(shared),
                HOT_MANIFEST_BYTES, HOT_TAG_BYTES);
        metadata = cached;
        BlobLeases leases = new BlobLeases();
        janitor = new CacheJanitor(metadata, storage.blobs, config.storage().maxSize(), leases::inUse,
                entry -> metrics.evicted(entry.kind().name().toLowerCase(), entry.size()), clock, evictions);
        metrics.cacheSize(janitor::used, janitor.maxSize());
        metrics.evictionSeries(java.util.Arrays.stream(dev.pullthrough.storage.meta.IndexEntry.Kind.values())
                .map(kind -> kind.name().toLowerCase()).toList());
        blobs = new BlobService(storage.blobs, metadata, janitor, leases, metrics, downloads, MAX_DOWNLOADS, blocking, clock,
                config.offline());
        metrics.inFlightDownloads(blobs::downloadsInFlight);
        mirror.ifPresent(m -> blobs.observeDownloads(m.uploads()::follow));
        admission = new ManifestAdmission(metadata, janitor);
        manifests = new ManifestService(metadata, cached, admission, janitor, metrics, clock, config.offline(), blocking,
                cluster.map(Cluster::tags).orElse(SharedTags.NONE));
        listings = new ListingService(config.offline(), clock);
        metrics.defaultUpstreamSeries(router.defaultUpstreamName());
        prefetcher = new Prefetcher(router, blobs, metadata, admission, clock);
        CacheInventory inventory = new CacheInventory(metadata, pulls, router.defaultUpstreamName());
        cacheAdmin = new CacheAdmin(router, inventory, new CachePurge(metadata, janitor, inventory, pulls, clock));
        keepWarm = warmImages.isEmpty() ? Optional.empty() : Optional.of(new KeepWarm(
                warmImages, config.warm().interval(), router, metadata, prefetcher, clock));
        upstreamChecks = new UpstreamChecks(upstreams.stream().map(client -> new UpstreamProbe(client, upstreamLookups, clock)).toList(),
                config.offline() ? Duration.ZERO : config.admin().upstreamCheckInterval(), clock);
    }

    /**
     * Starts the background work: aborting stalled downloads, then a pass over the whole cache
     * (index against files), then keeping the cache within its bound (a restart with a smaller
     * storage.maxSize is back within it). {@code serve} calls this once it listens, so that the
     * passes over a large cache do not compete with start-up for the CPU.
     */
    public ProxyCore startHousekeeping() {
        housekeeping.scheduleWithFixedDelay(blobs::abortSlowDownloads, 1, 1, TimeUnit.SECONDS);
        housekeeping.execute(this::reconcileAndCount);
        housekeeping.scheduleWithFixedDelay(this::keepWithinBound, 0, 10, TimeUnit.SECONDS);
        retention.ifPresent(pass -> retentionPasses.scheduleWithFixedDelay(() -> runRetention(pass),
                BucketRetention.FIRST_LOOK.toMillis(), BucketRetention.LOOK_EVERY.toMillis(), TimeUnit.MILLISECONDS));
        return this;
    }

    private static void runRetention(BucketRetention pass) {
        try {
            pass.runIfDue();
        } catch (RuntimeException e) {
            LOG.warn("the bucket retention pass failed (the next look retries): {}", e.toString());
        }
    }

    /**
     * Opens the storage (recovering it from an interrupted run) and builds the services. The storage
     * opens on a thread of its own while the metrics and upstream clients are built: both are mostly
     * class loading, and start-up to the first answer is what a restarted node's clients wait for.
     */
    public static ProxyCore open(PullthroughConfig config) throws StartupException {
        CompletableFuture<Storage> opening = new CompletableFuture<>();
        Thread opener = new Thread(() -> {
            try {
                opening.complete(openAndSweep(config));
            } catch (StartupException | RuntimeException e) {
                opening.completeExceptionally(e);
            }
        }, "open-storage");
        opener.setDaemon(true);
        opener.start();
        Metrics metrics = new Metrics();
        ClientLoops loops = new ClientLoops();
        List<UpstreamClient> upstreams;
        List<ImageReference> warmImages;
        Storage storage;
        try {
            upstreams = upstreamClients(config, metrics, loops);
            warmImages = warmImages(config, new UpstreamRouter(upstreams));
            storage = opened(opening);
        } catch (StartupException | ConfigException e) {
            loops.close();
            // Closed before the failure is reported: the caller (a test's temp directory, a retry
            // with a fixed config) may reuse the data directory at once.
            opening.thenAccept(Storage::close).exceptionally(failedToOpen -> null).join();
            throw e;
        }
        return new ProxyCore(config, storage, metrics, loops, upstreams, warmImages);
    }

    private static Storage openAndSweep(PullthroughConfig config) throws StartupException {
        Storage storage = Storage.open(config.storage());
        try {
            int temps = StartupRecovery.sweep(storage.blobs);
            if (temps > 0) {
                LOG.info("removed {} temp files of downloads an earlier run left unfinished", temps);
            }
            UnsyncedRecovery.Report unsynced = storage.recoverUnsyncedCommits();
            if (unsynced.uncleanStop()) {
                LOG.info("unclean stop: re-hashed {} blobs committed after the last sync ({} bytes) in {} ms; {} torn blobs removed",
                        unsynced.blobsRehashed(), unsynced.bytesRehashed(), unsynced.millis(), unsynced.tornRemoved());
            }
            return storage;
        } catch (IOException | RuntimeException e) {
            storage.close();
            throw new StartupException("recovering storage.path " + config.storage().path().toAbsolutePath() + " failed: " + e, e);
        }
    }

    private static Storage opened(CompletableFuture<Storage> opening) throws StartupException {
        try {
            return opening.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof StartupException startup) {
                throw startup;
            }
            throw new StartupException("opening the storage failed: " + e.getCause(), e.getCause());
        }
    }

    private static List<UpstreamClient> upstreamClients(PullthroughConfig config, Metrics metrics, ClientLoops loops)
            throws StartupException {
        TokenCache tokens = new TokenCache();
        // One heap, so one budget for the manifest and listing bodies of every upstream (issue 26).
        BodyBudget bodies = BodyBudget.eighthOfHeap();
        List<UpstreamClient> clients = new ArrayList<>();
        for (int i = 0; i < config.upstreams().size(); i++) {
            UpstreamConfig upstream = config.upstreams().get(i);
            if (!UpstreamClient.manifestFits(upstream.maxManifestSize(), bodies)) {
                throw new StartupException("upstreams[" + i + "].maxManifestSize: " + upstream.maxManifestSize() + " bytes do not"
                        + " fit the heap's budget for manifest bodies (" + bodies.capacity() + " bytes hold manifests of up to "
                        + bodies.capacity() / 2 + " bytes); lower it or raise -Xmx in jvm.options", null);
            }
            try {
                clients.add(new UpstreamClient(upstream, UpstreamClient.newHttpClient(upstream, loops), tokens, metrics, bodies));
                metrics.tagRefreshSeries(upstream.name());
                metrics.upstreamSeries(upstream.name());
            } catch (IOException e) {
                throw new StartupException("upstreams[" + i + "].caFile: " + e.getMessage(), e);
            }
        }
        return clients;
    }

    private void reconcileAndCount() {
        try {
            StartupRecovery.Report recovery = StartupRecovery.reconcile(storage.blobs, storage.metadata);
            janitor.recount();
            LOG.info("storage reconciled in {} ms: {} missing blobs forgotten, {} blobs re-indexed; {} bytes cached",
                    recovery.millis(), recovery.missingBlobsForgotten(), recovery.blobsIndexed(), janitor.used());
        } catch (IOException | RuntimeException e) {
            LOG.warn("reconciling the cache index with the blob files failed: {}", e.toString());
        }
    }

    private void keepWithinBound() {
        try {
            janitor.flushAccesses();
            janitor.evictIfNeeded();
        } catch (RuntimeException e) {
            LOG.warn("cache housekeeping failed: {}", e.toString());
        }
    }

    // ---------------------------------------------------------------- what the maintenance commands do

    /** {@code prefetch}: pulls an image through the cache, as a client would, reporting progress. */
    public Prefetcher.Summary prefetch(String image, Prefetcher.Progress progress) throws IOException {
        return prefetcher.prefetch(image, progress);
    }

    /** {@code warm.images}, each parsed and routed now, so that a typo stops the start naming it. */
    private static List<ImageReference> warmImages(PullthroughConfig config, UpstreamRouter router) {
        List<ImageReference> images = new ArrayList<>();
        for (int i = 0; i < config.warm().images().size(); i++) {
            String text = config.warm().images().get(i);
            try {
                ImageReference image = ImageReference.parse(text);
                router.route(image.name(), Optional.empty()).error().ifPresent(error -> {
                    throw new IllegalArgumentException(error.message());
                });
                images.add(image);
            } catch (IllegalArgumentException e) {
                throw new ConfigException("warm.images[" + i + "]", "'" + text + "' is not an image this proxy can pull ("
                        + e.getMessage() + ")", "write [UPSTREAM/]REPO[:TAG|@DIGEST], UPSTREAM a configured upstream's name");
            }
        }
        return images;
    }

    /**
     * Starts keep-warm ({@code warm.images}), when configured: the first run at once, then one every
     * {@code warm.interval} after the previous one ended. {@code serve} alone calls this.
     */
    public void startKeepWarm() {
        keepWarm.ifPresent(warm -> warming.scheduleWithFixedDelay(() -> {
            try {
                warm.runOnce();
            } catch (RuntimeException e) {
                LOG.warn("a keep-warm run failed: {}", e.toString());
            }
        }, 0, warm.interval().toMillis(), TimeUnit.MILLISECONDS));
    }

    /**
     * Starts the background upstream checks (issue 27): the first a second after the start, then one
     * every {@code admin.upstreamCheckInterval} (0s: never). Not while offline: no upstream is contacted then.
     */
    public void startUpstreamChecks() {
        if (upstreamChecks.interval().isZero()) {
            return;
        }
        checking.scheduleWithFixedDelay(() -> {
            try {
                upstreamChecks.runIfDue();
            } catch (RuntimeException e) {
                LOG.warn("starting the upstream checks failed: {}", e.toString());
            }
        }, 1, 10, TimeUnit.SECONDS);
    }

    /**
     * {@code check --upstreams}: every upstream's connectivity check, run at once on clients built as
     * {@code serve} builds them (no storage opened: a running server may hold it).
     */
    public static List<UpstreamCheck> checkUpstreams(PullthroughConfig config) throws StartupException {
        ExecutorService lookups = Executors.newCachedThreadPool(named("upstream-dns"));
        try (ClientLoops loops = new ClientLoops()) {
            List<CompletableFuture<UpstreamCheck>> checks = new ArrayList<>();
            for (UpstreamClient client : upstreamClients(config, new Metrics(), loops)) {
                checks.add(new UpstreamProbe(client, lookups, Clock.systemUTC()).run());
            }
            return checks.stream().map(CompletableFuture::join).toList();
        } finally {
            lookups.shutdownNow();
        }
    }

    /** What the status page shows. */
    StatusReport statusReport() {
        return new StatusReport(metrics, config.upstreams().stream()
                .map(u -> new StatusReport.UpstreamInfo(u.name(), u.url().toString())).toList(),
                janitor::used, janitor.maxSize(), blobs::downloads, cacheAdmin, keepWarm,
                config.cluster().map(c -> new StatusReport.ClusterInfo(c.advertise().toString(), this::clusterDegradation,
                        () -> retention.flatMap(BucketRetention::lastPass).map(p -> new StatusReport.RetentionInfo(
                                p.at(), p.replica(), p.deletedObjects(), p.deletedBytes(), p.keptObjects(), p.uploadsAborted())))),
                clock, upstreamChecks);
    }

    /** {@code list} and {@code purge}: what the cache holds, and its removal. */
    public CacheAdmin cacheAdmin() {
        return cacheAdmin;
    }

    /** {@code export}: cached images as an OCI image layout tar; returns how many blobs and manifests it wrote. */
    public int exportImages(List<String> images, Path output) throws IOException {
        return new OciLayoutExporter(router, metadata, storage.blobs).export(images, output);
    }

    /** {@code import}: an OCI image layout tar into the cache. */
    public OciLayoutImporter.Report importLayout(Path tar) throws IOException {
        return new OciLayoutImporter(metadata, storage.blobs, janitor, admission, clock).load(tar);
    }

    /**
     * Stops the threads (downloads still running after a short drain are aborted), records the last
     * accesses, then closes RocksDB.
     */
    @Override
    public void close() {
        close(DOWNLOAD_DRAIN);
    }

    /** As {@link #close()}, giving downloads {@code downloadDrain} to end (zero after a graceful stop's drain, issue 30). */
    void close(Duration downloadDrain) {
        // Eviction passes stop between steps when interrupted; a pass over the whole cache does not.
        housekeeping.shutdownNow();
        retentionPasses.shutdownNow();
        warming.shutdownNow();
        prefetching.shutdownNow();
        checking.shutdownNow();
        upstreamLookups.shutdownNow();
        evictions.shutdownNow();
        blocking.shutdown();
        boolean passesEnded = false;
        try {
            // Downloads get a moment to end on their own: a client may already hold every byte of a
            // blob whose commit (rename) is still running, and interrupting those loses the blob.
            // The pool stays open meanwhile: each step of a download (hash, then commit) is a new task.
            long drainEnds = System.nanoTime() + downloadDrain.toNanos();
            while (blobs.downloadsInFlight() > 0 && System.nanoTime() < drainEnds) {
                Thread.sleep(10);
            }
            downloads.shutdown();
            blocking.awaitTermination(5, TimeUnit.SECONDS);
            passesEnded = housekeeping.awaitTermination(5, TimeUnit.SECONDS) && evictions.awaitTermination(5, TimeUnit.SECONDS);
            if (!downloads.awaitTermination(1, TimeUnit.SECONDS)) {
                downloads.shutdownNow();
                downloads.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            janitor.flushAccesses();
        } catch (RuntimeException e) {
            LOG.warn("recording last accesses failed: {}", e.toString());
        }
        // The downloads have ended: every commit is synced now, so the next start re-hashes nothing (issue 28).
        storage.syncCommits();
        cluster.ifPresent(Cluster::close);
        upstreamLoops.close();
        bucket.ifPresent(this::closeBucket);
        if (passesEnded) {
            metadata.close();
        } else {
            // Closing RocksDB under a running pass could crash the process; its log recovers what was written.
            LOG.warn("a pass over the cache is still running: leaving the index to recover from its log at the next start");
        }
    }

    /** Lets the writes to the bucket that are under way finish (briefly), then closes its client. */
    private void closeBucket(S3Bucket shared) {
        long ends = System.nanoTime() + DOWNLOAD_DRAIN.toNanos();
        try {
            while (mirror.map(BucketMirror::pendingWrites).orElse(0L) > 0 && System.nanoTime() < ends) {
                Thread.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long unfinished = mirror.map(BucketMirror::pendingWrites).orElse(0L);
        if (unfinished > 0) {
            LOG.warn("{} writes to the bucket did not finish; other replicas fetch those objects themselves", unfinished);
        }
        shared.close();
    }

    /** Blob GETs answered with a presigned URL of the bucket (storage.s3.redirect), or none. */
    BlobRedirects redirects() {
        return bucket.filter(b -> config.storage().s3().orElseThrow().redirect())
                .<BlobRedirects>map(b -> new BucketRedirects(b, digest -> useRecording.ifPresent(r -> r.usedNow(digest))))
                .orElse(BlobRedirects.NONE);
    }

    /** Why this replica of a cluster works alone now (Redis unreachable); empty when it coordinates, or is no replica. */
    Optional<String> clusterDegradation() {
        return cluster.flatMap(Cluster::degradation);
    }

    /** Writes to the bucket under way (0 without storage.s3). */
    public long pendingBucketWrites() {
        return mirror.map(BucketMirror::pendingWrites).orElse(0L);
    }

    static ThreadFactory named(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return r -> {
            Thread thread = new Thread(r, prefix + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
