package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.ForwardingMetadataStore;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.HeldBlobBody;
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.ManifestHead;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, hole 5, in-process: prefetch walks an image's graph, not its paths. Each digest is
 * fetched once (an index listing its child twice, nested 40 levels, is 2^40 paths and 41 manifests),
 * within depth and count bounds checked before more is fetched, a few requests at a time, stopped
 * when its caller goes away, and the repository is linked to the image only once all of it is cached.
 */
class PrefetchGraphWalkTest {
    private static final byte[] CONFIG = "{\"architecture\":\"amd64\"}".getBytes(StandardCharsets.UTF_8);
    private static final byte[] LAYER = "a layer".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path temp;

    private final GraphUpstream upstream = new GraphUpstream();
    private final ExecutorService downloads = Executors.newFixedThreadPool(2);
    private RocksMetadataStore rocks;
    private MetadataStore metadata;
    private BlobService blobs;
    private ManifestAdmission admission;

    @BeforeEach
    void setUp() throws Exception {
        BlobPaths paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        FileBlobStore store = new FileBlobStore(paths);
        metadata = new CachedMetadataStore(rocks, 1 << 20, 1 << 20);
        CacheJanitor janitor = new CacheJanitor(metadata, store, 1L << 30, d -> false, e -> { }, Clock.systemUTC(), Runnable::run);
        blobs = new BlobService(store, metadata, janitor, new BlobLeases(), new Metrics(), downloads, 4, Runnable::run,
                Clock.systemUTC(), false);
        admission = new ManifestAdmission(metadata, janitor);
        upstream.blob(CONFIG);
        upstream.blob(LAYER);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        downloads.shutdown();
        assertTrue(downloads.awaitTermination(10, TimeUnit.SECONDS));
        upstream.timer.shutdownNow();
        rocks.close();
    }

    private Prefetcher prefetcher(WalkLimits limits) {
        return new Prefetcher(new UpstreamRouter(List.of(upstream)), blobs, metadata, admission, Clock.systemUTC(), limits);
    }

    // ---------------------------------------------------------------- a graph, not paths

    @Test
    @Timeout(60) // walking paths instead would take longer than the age of the universe
    void prefetch_childListedTwiceNested40Levels_eachDigestFetchedOnce() throws IOException {
        Digest image = upstream.image();
        Digest top = upstream.doublingChain(image, 40);
        upstream.tag("top", top);

        Prefetcher.Summary summary = prefetcher(WalkLimits.DEFAULT).prefetch("team/app:top", Prefetcher.QUIET);

        assertEquals(top, summary.digest());
        assertEquals(41, summary.manifests(), "40 indexes and the image, each once");
        assertEquals(2, summary.blobs());
        assertEquals(41, upstream.manifestGets.get(), "one GET per distinct manifest, not per path");
        assertEquals(2, upstream.blobGets.get());
        assertTrue(metadata.linked("fake", "team/app", top) && metadata.linked("fake", "team/app", image),
                "the whole graph is linked to the repository");
    }

    @Test
    void prefetch_cachedAlready_noManifestFetchedTwice() throws IOException {
        Digest top = upstream.doublingChain(upstream.image(), 12);
        Prefetcher prefetcher = prefetcher(WalkLimits.DEFAULT);
        prefetcher.prefetch("team/app@" + top, Prefetcher.QUIET);
        int first = upstream.manifestGets.get();

        Prefetcher.Summary again = prefetcher.prefetch("team/app@" + top, Prefetcher.QUIET);

        assertEquals(13, first);
        assertEquals(first, upstream.manifestGets.get(), "linked and cached: read from the cache");
        assertEquals(13, again.manifests());
    }

    // ---------------------------------------------------------------- bounds

    @Test
    void prefetch_moreDistinctChildrenThanTheLimit_refusedBeforeFetchingThem() {
        Digest[] children = new Digest[50];
        for (int i = 0; i < children.length; i++) {
            children[i] = upstream.image("layer " + i);
        }
        Digest top = upstream.index(children);

        IOException refused = assertThrows(IOException.class,
                () -> prefetcher(new WalkLimits(64, 10, 100, 4)).prefetch("team/app@" + top, Prefetcher.QUIET));

        assertTrue(refused.getMessage().contains("more than 10 distinct manifests, the limit of one prefetch"), refused.getMessage());
        assertEquals(1, upstream.manifestGets.get(), "only the index itself");
        assertFalse(metadata.linked("fake", "team/app", top), "nothing linked");
    }

    @Test
    void prefetch_nestedDeeperThanTheLimit_refusedNamingIt() {
        Digest top = upstream.doublingChain(upstream.image(), 10);

        IOException refused = assertThrows(IOException.class,
                () -> prefetcher(new WalkLimits(5, 1000, 100, 4)).prefetch("team/app@" + top, Prefetcher.QUIET));

        assertTrue(refused.getMessage().contains("deeper than 5 levels"), refused.getMessage());
        assertEquals(6, upstream.manifestGets.get(), "levels 0 to 5 looked at, the sixth child refused");
        assertEquals(0, upstream.blobGets.get());
        assertFalse(metadata.linked("fake", "team/app", top));
    }

    @Test
    void prefetch_tooManyDistinctBlobs_refusedBeforeDownloadingAny() {
        Digest[] children = new Digest[6];
        for (int i = 0; i < children.length; i++) {
            children[i] = upstream.image("layer " + i);
        }
        Digest top = upstream.index(children);

        IOException refused = assertThrows(IOException.class,
                () -> prefetcher(new WalkLimits(64, 1000, 5, 4)).prefetch("team/app@" + top, Prefetcher.QUIET));

        assertTrue(refused.getMessage().contains("more than 5 distinct blobs"), refused.getMessage());
        assertEquals(0, upstream.blobGets.get());
    }

    // ---------------------------------------------------------------- a few at a time

    @Test
    void prefetch_manyChildren_aFewRequestsAtATime() throws IOException {
        Digest[] children = new Digest[12];
        for (int i = 0; i < children.length; i++) {
            children[i] = upstream.image("layer " + i);
        }
        Digest top = upstream.index(children);
        upstream.delayMillis = 30;

        Prefetcher.Summary summary = prefetcher(new WalkLimits(64, 1000, 100, 4)).prefetch("team/app@" + top, Prefetcher.QUIET);

        assertEquals(13, summary.manifests());
        assertEquals(4, upstream.mostAtOnce.get(), "four children asked at once, never more");
    }

    // ---------------------------------------------------------------- the caller goes away

    @Test
    void prefetch_callerGone_stopsWithoutAskingForMore() {
        Digest top = upstream.doublingChain(upstream.image(), 30);

        IOException stopped = assertThrows(IOException.class, () -> prefetcher(WalkLimits.DEFAULT)
                .prefetch("team/app@" + top, Prefetcher.QUIET, () -> upstream.manifestGets.get() >= 3));

        assertTrue(stopped.getMessage().contains("has gone away"), stopped.getMessage());
        assertEquals(3, upstream.manifestGets.get());
        assertEquals(0, upstream.blobGets.get());
        assertFalse(metadata.linked("fake", "team/app", top));
    }

    @Test
    void prefetch_refusedByUpstream_saysWhatItAnsweredInWords() {
        upstream.ownError = true;

        IOException refused = assertThrows(IOException.class,
                () -> prefetcher(WalkLimits.DEFAULT).prefetch("team/app:missing", Prefetcher.QUIET));

        assertTrue(refused.getMessage().contains("it answered 404: {\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\""), refused.getMessage());
        assertFalse(refused.getMessage().contains("[B@") || refused.getMessage().contains("OwnError["), refused.getMessage());
    }

    // ---------------------------------------------------------------- keep-warm

    @Test
    void keepWarm_cachedChildTwiceNested_eachManifestLookedAtOnce_unchanged() throws IOException {
        Digest top = upstream.doublingChain(upstream.image(), 16);
        upstream.tag("top", top);
        AtomicInteger manifestReads = new AtomicInteger();
        MetadataStore counting = new ForwardingMetadataStore(metadata) {
            @Override
            public Optional<StoredManifest> manifest(Digest digest) {
                manifestReads.incrementAndGet();
                return super.manifest(digest);
            }
        };
        KeepWarm warm = new KeepWarm(List.of(ImageReference.parse("team/app:top")), Duration.ofHours(1),
                new UpstreamRouter(List.of(upstream)), counting, prefetcher(WalkLimits.DEFAULT), Clock.systemUTC());
        assertEquals("fetched", warm.runOnce().outcomes().get(0).result());
        int fetched = upstream.manifestGets.get();
        manifestReads.set(0);

        KeepWarm.Run second = warm.runOnce();

        assertEquals("unchanged", second.outcomes().get(0).result());
        assertEquals(17, manifestReads.get(), "each of 17 manifests read once, not once per path (2^17)");
        assertEquals(fetched, upstream.manifestGets.get(), "no GET for an image cached whole");
    }

    // ---------------------------------------------------------------- the fake

    /** An upstream serving a graph of manifests built by the test, and its blobs; counts GETs and the most at once. */
    private static final class GraphUpstream extends TestUpstream {
        final Map<String, byte[]> manifests = new ConcurrentHashMap<>();
        final Map<Digest, byte[]> blobBytes = new ConcurrentHashMap<>();
        final AtomicInteger manifestGets = new AtomicInteger();
        final AtomicInteger blobGets = new AtomicInteger();
        final AtomicInteger atOnce = new AtomicInteger();
        final AtomicInteger mostAtOnce = new AtomicInteger();
        final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        volatile long delayMillis;
        volatile boolean ownError;

        Digest blob(byte[] bytes) {
            Digest digest = Digest.sha256Of(bytes);
            blobBytes.put(digest, bytes);
            return digest;
        }

        Digest image() {
            return image(null);
        }

        /** An image manifest: the config, the shared layer, and one layer of its own when {@code ownLayer} is given. */
        Digest image(String ownLayer) {
            StringBuilder layers = new StringBuilder(descriptor("application/vnd.oci.image.layer.v1.tar", Digest.sha256Of(LAYER),
                    LAYER.length));
            if (ownLayer != null) {
                byte[] bytes = ownLayer.getBytes(StandardCharsets.UTF_8);
                layers.append(',').append(descriptor("application/vnd.oci.image.layer.v1.tar", blob(bytes), bytes.length));
            }
            return manifest("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":"
                    + descriptor("application/vnd.oci.image.config.v1+json", Digest.sha256Of(CONFIG), CONFIG.length)
                    + ",\"layers\":[" + layers + "]}");
        }

        /** An index naming {@code children} in that order (the same one several times if listed so). */
        Digest index(Digest... children) {
            StringBuilder list = new StringBuilder();
            for (Digest child : children) {
                byte[] bytes = manifests.get(child.toString());
                String type = new String(bytes, StandardCharsets.UTF_8).contains(MediaTypes.OCI_INDEX)
                        ? MediaTypes.OCI_INDEX : MediaTypes.OCI_MANIFEST;
                list.append(list.length() == 0 ? "" : ",").append(descriptor(type, child, bytes.length));
            }
            return manifest("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":[" + list + "]}");
        }

        /** {@code levels} indexes, each listing the one below twice: 2^levels paths to {@code bottom}. */
        Digest doublingChain(Digest bottom, int levels) {
            Digest top = bottom;
            for (int i = 0; i < levels; i++) {
                top = index(top, top);
            }
            return top;
        }

        void tag(String tag, Digest digest) {
            manifests.put(tag, manifests.get(digest.toString()));
        }

        private Digest manifest(String json) {
            byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
            Digest digest = Digest.sha256Of(bytes);
            manifests.put(digest.toString(), bytes);
            return digest;
        }

        private static String descriptor(String mediaType, Digest digest, long size) {
            return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + digest + "\",\"size\":" + size + "}";
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
            manifestGets.incrementAndGet();
            if (ownError) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.OwnError(404,
                        "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}\n"
                                .getBytes(StandardCharsets.UTF_8))));
            }
            byte[] bytes = manifests.get(reference);
            if (bytes == null) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.NotFound()));
            }
            String type = new String(bytes, StandardCharsets.UTF_8).contains("\"manifests\"") ? MediaTypes.OCI_INDEX
                    : MediaTypes.OCI_MANIFEST;
            UpstreamResult<ManifestBody> answer = UpstreamResult.ok(new ManifestBody(type,
                    Optional.of(Digest.sha256Of(bytes).toString()), bytes));
            mostAtOnce.accumulateAndGet(atOnce.incrementAndGet(), Math::max);
            if (delayMillis == 0) {
                atOnce.decrementAndGet();
                return CompletableFuture.completedFuture(answer);
            }
            CompletableFuture<UpstreamResult<ManifestBody>> later = new CompletableFuture<>();
            timer.schedule(() -> {
                atOnce.decrementAndGet();
                later.complete(answer);
            }, delayMillis, TimeUnit.MILLISECONDS);
            return later;
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference,
                                                                            List<String> accept) {
            byte[] bytes = manifests.get(reference);
            return CompletableFuture.completedFuture(bytes == null ? UpstreamResult.refused(new Refusal.NotFound())
                    : UpstreamResult.ok(new ManifestHead(Optional.of(Digest.sha256Of(bytes).toString()))));
        }

        @Override
        public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
            blobGets.incrementAndGet();
            byte[] bytes = blobBytes.get(digest);
            if (bytes == null) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.NotFound()));
            }
            HeldBlobBody body = new HeldBlobBody(bytes);
            CompletableFuture.runAsync(body::send);
            return CompletableFuture.completedFuture(UpstreamResult.ok(body.body()));
        }
    }
}
