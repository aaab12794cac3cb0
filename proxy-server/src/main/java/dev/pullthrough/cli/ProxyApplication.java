package dev.pullthrough.cli;

import dev.pullthrough.access.HtpasswdUsers;
import dev.pullthrough.access.PullerAuthenticator;
import dev.pullthrough.admin.AdminRoutes;
import dev.pullthrough.config.PullthroughConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.proxy.BlobLeases;
import dev.pullthrough.proxy.BlobService;
import dev.pullthrough.proxy.ListingService;
import dev.pullthrough.proxy.ManifestService;
import dev.pullthrough.proxy.PullApi;
import dev.pullthrough.proxy.UpstreamRouter;
import dev.pullthrough.server.ClientPolicy;
import dev.pullthrough.server.RegistryServer;
import dev.pullthrough.server.TlsContexts;
import io.netty.handler.ssl.SslContext;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.gc.CacheJanitor;
import dev.pullthrough.storage.gc.StartupRecovery;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.upstream.UpstreamClient;
import dev.pullthrough.upstream.auth.TokenCache;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The composition root: the only place that builds concrete objects, with plain constructors. */
public final class ProxyApplication implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyApplication.class);
    /** Threads that may block on disk, RocksDB or an upstream's answer, so the event loops never do. */
    private static final int BLOCKING_THREADS = 64;
    /** Memory for hot manifests and tag resolutions in front of RocksDB. */
    private static final long HOT_MANIFEST_BYTES = 64L << 20;
    private static final long HOT_TAGS = 100_000;
    /** Upstream blob downloads at once; further ones queue. */
    private static final int MAX_DOWNLOADS = 32;
    /** An upstream that sends no byte of a blob for this long has its download aborted. */
    private static final Duration DOWNLOAD_IDLE_TIMEOUT = Duration.ofSeconds(60);

    private final MetadataStore metadata;
    private final CacheJanitor janitor;
    private final RegistryServer server;
    private final ExecutorService blocking;
    private final ExecutorService downloads;
    private final ScheduledExecutorService housekeeping;
    private final Metrics metrics;
    private final InetSocketAddress registryAddress;

    private ProxyApplication(MetadataStore metadata, CacheJanitor janitor, RegistryServer server, ExecutorService blocking,
                             ExecutorService downloads, ScheduledExecutorService housekeeping, Metrics metrics,
                             InetSocketAddress registryAddress) {
        this.metadata = metadata;
        this.janitor = janitor;
        this.server = server;
        this.blocking = blocking;
        this.downloads = downloads;
        this.housekeeping = housekeeping;
        this.metrics = metrics;
        this.registryAddress = registryAddress;
    }

    public static ProxyApplication start(PullthroughConfig config) throws StartupException {
        PullerAuthenticator pullers = new PullerAuthenticator(config.auth().htpasswd().map(HtpasswdUsers::load));
        Optional<SslContext> tls = TlsContexts.forServer(config.server().tls());
        Storage storage = Storage.open(config.storage());
        StartupRecovery.Report recovery;
        try {
            recovery = StartupRecovery.run(storage.blobs, storage.metadata);
        } catch (IOException | RuntimeException e) {
            storage.close();
            throw new StartupException("recovering storage.path " + config.storage().path().toAbsolutePath() + " failed: " + e, e);
        }
        LOG.info("storage recovered in {} ms: {} temp files removed, {} missing blobs forgotten, {} blobs re-indexed",
                recovery.millis(), recovery.tempFilesRemoved(), recovery.missingBlobsForgotten(), recovery.blobsIndexed());
        RocksMetadataStore rocks = storage.metadata;
        FileBlobStore blobs = storage.blobs;
        BlobPaths paths = storage.paths;
        Metrics metrics = new Metrics();
        ExecutorService blocking = Executors.newFixedThreadPool(BLOCKING_THREADS, named("blocking"));
        ExecutorService downloads = Executors.newFixedThreadPool(MAX_DOWNLOADS, named("download"));
        HttpClient http = UpstreamClient.newHttpClient();
        TokenCache tokens = new TokenCache();
        List<UpstreamClient> upstreams = config.upstreams().stream()
                .map(u -> new UpstreamClient(u, http, tokens, metrics)).collect(Collectors.toList());
        Clock clock = Clock.systemUTC();
        MetadataStore metadata = new CachedMetadataStore(rocks, HOT_MANIFEST_BYTES, HOT_TAGS);
        BlobLeases leases = new BlobLeases();
        CacheJanitor janitor = new CacheJanitor(metadata, blobs, config.storage().maxSize(), leases::inUse,
                entry -> metrics.evicted(entry.kind().name().toLowerCase(), entry.size()), clock);
        metrics.cacheSize(janitor::used, janitor.maxSize());
        metrics.nettyMemory(RegistryServer::nettyDirectMemory, RegistryServer::nettyHeapMemory);
        BlobService blobService = new BlobService(blobs, metadata, janitor, leases, metrics, downloads, clock, config.offline());
        metrics.inFlightDownloads(blobService::downloadsInFlight);
        ScheduledExecutorService housekeeping = Executors.newSingleThreadScheduledExecutor(named("housekeeping"));
        housekeeping.scheduleWithFixedDelay(() -> blobService.abortStalledDownloads(DOWNLOAD_IDLE_TIMEOUT), 5, 5, TimeUnit.SECONDS);
        housekeeping.scheduleWithFixedDelay(() -> keepWithinBound(janitor), 10, 10, TimeUnit.SECONDS);
        PullApi api = new PullApi(new UpstreamRouter(upstreams),
                new ManifestService(metadata, janitor, metrics, clock, config.offline()),
                blobService,
                new ListingService(config.offline(), clock), blocking, metrics, pullers);
        AdminRoutes admin = new AdminRoutes(metrics, paths.tmpDir());
        RegistryServer server = new RegistryServer();
        InetSocketAddress address;
        try {
            boolean sharedPort = config.admin().port() == config.server().port();
            address = server.bindRegistry(config.server().host(), config.server().port(), tls, api,
                    sharedPort ? Optional.of(admin) : Optional.empty(), metrics, blocking,
                    new ClientPolicy(config.auth().allowCidrs()), config.jsonAccessLog());
            if (!sharedPort) {
                server.bindAdmin(config.server().host(), config.admin().port(), admin, metrics, blocking);
            }
        } catch (Exception e) {
            server.close();
            metadata.close();
            blocking.shutdownNow();
            downloads.shutdownNow();
            housekeeping.shutdownNow();
            throw new StartupException("cannot listen on " + config.server().host() + ":" + config.server().port()
                    + " / admin " + config.admin().port() + ": " + e.getMessage()
                    + " (set server.port / admin.port to free ports)", e);
        }
        LOG.info("pullthrough serving {} upstream(s): {}; default {}; data in {}", upstreams.size(),
                config.upstreams().stream().map(u -> u.name() + "=" + u.url()).collect(Collectors.joining(", ")),
                config.defaultUpstream().name(), config.storage().path().toAbsolutePath());
        return new ProxyApplication(metadata, janitor, server, blocking, downloads, housekeeping, metrics, address);
    }

    private static void keepWithinBound(CacheJanitor janitor) {
        try {
            janitor.flushAccesses();
            janitor.evictIfNeeded();
        } catch (RuntimeException e) {
            LOG.warn("cache housekeeping failed: {}", e.toString());
        }
    }

    public InetSocketAddress registryAddress() {
        return registryAddress;
    }

    public Metrics metrics() {
        return metrics;
    }

    /** Stops accepting, lets responses finish briefly, then closes RocksDB last. */
    @Override
    public void close() {
        server.close();
        housekeeping.shutdownNow();
        try {
            janitor.flushAccesses();
        } catch (RuntimeException e) {
            LOG.warn("recording last accesses failed: {}", e.toString());
        }
        downloads.shutdownNow();
        blocking.shutdown();
        try {
            blocking.awaitTermination(5, TimeUnit.SECONDS);
            downloads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        metadata.close();
        LOG.info("pullthrough stopped");
    }

    private static ThreadFactory named(String prefix) {
        AtomicInteger count = new AtomicInteger();
        return r -> {
            Thread thread = new Thread(r, prefix + "-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}
