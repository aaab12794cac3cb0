package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.testing.MovableClock;
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.ManifestHead;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Refresh-ahead of hot tags (issue 28): a tag served {@link RefreshAhead#HOT_HITS} times since the
 * upstream confirmed it is revalidated with one HEAD in its TTL's last fifth (at most 30 s), so the
 * client after the TTL is served without waiting; a cold tag is not; {@code refreshAhead: false}
 * turns it off. In-process, a counting fake upstream and a clock the test moves (TTL 5m: lead 30 s).
 */
class RefreshAheadTest {
    private static final byte[] MANIFEST = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\","
            + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" + "a".repeat(64)
            + "\",\"size\":2},\"layers\":[]}").getBytes(StandardCharsets.UTF_8);
    private static final Digest DIGEST = Digest.sha256Of(MANIFEST);
    private static final List<String> ACCEPT = List.of(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_INDEX);

    @TempDir
    Path temp;

    private final MovableClock clock = new MovableClock();
    private final Metrics metrics = new Metrics();
    private RocksMetadataStore rocks;
    private ExecutorService pool;

    @AfterEach
    void tearDown() {
        if (pool != null) {
            pool.shutdownNow();
        }
        rocks.close();
    }

    private ManifestService service(java.util.concurrent.Executor blocking) throws Exception {
        metrics.tagRefreshSeries("fake"); // as ProxyCore does for every upstream
        BlobPaths paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        CachedMetadataStore metadata = new CachedMetadataStore(rocks, 1 << 20, 1 << 20);
        CacheJanitor janitor = new CacheJanitor(metadata, new FileBlobStore(paths), 1L << 30, d -> false, e -> { }, clock, Runnable::run);
        return new ManifestService(metadata, metadata, new ManifestAdmission(metadata, janitor), janitor, metrics,
                clock, false, blocking, SharedTags.NONE);
    }

    private static Target target(CountingUpstream upstream, String repository) {
        RepositoryName name = RepositoryName.parse(repository);
        return new Target(upstream, name, name, null, "default");
    }

    private ProxyResponse.Manifest get(ManifestService manifests, Target target, String tag) {
        ProxyResponse.Manifest served = assertInstanceOf(ProxyResponse.Manifest.class,
                manifests.get(target, Reference.parse(tag), ACCEPT).orTimeout(10, TimeUnit.SECONDS).join());
        assertEquals(DIGEST, served.digest());
        return served;
    }

    /** {@link #get} on a thread of its own, so that a client stuck on the upstream fails the test instead of hanging it. */
    private void getWithin(ManifestService manifests, Target target, String tag) throws Exception {
        CompletableFuture.runAsync(() -> get(manifests, target, tag)).get(10, TimeUnit.SECONDS);
    }

    private double counter(String series) {
        Matcher value = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE).matcher(metrics.scrape());
        return value.find() ? Double.parseDouble(value.group(1)) : -1;
    }

    @Test
    void hotTag_revalidatedWithOneHeadBeforeItsTtlEnds_theClientAfterTheTtlServedWithoutAskingTheUpstream() throws Exception {
        CountingUpstream upstream = new CountingUpstream("tagTtl: 5m");
        ManifestService manifests = service(Runnable::run);
        Target target = target(upstream, "team/hot");

        get(manifests, target, "v1"); // the first pull: one GET
        clock.advance(Duration.ofMinutes(4)); // not yet in the last 30 s
        for (int i = 0; i < 3; i++) {
            get(manifests, target, "v1");
        }
        assertEquals(0, upstream.heads.get(), "hot, but not yet near its TTL's end");

        clock.advance(Duration.ofSeconds(35)); // 4m35s: within the last 30 s
        get(manifests, target, "v1");
        assertEquals(1, upstream.heads.get(), "the hot tag is revalidated ahead of its TTL");
        get(manifests, target, "v1");
        assertEquals(1, upstream.heads.get(), "once per confirmation");
        assertEquals(1.0, counter("pullthrough_tag_refreshes_total{outcome=\"renewed\",upstream=\"fake\"}"));

        clock.advance(Duration.ofSeconds(40)); // 5m15s: past the first confirmation's TTL
        Optional<ProxyResponse> fromMemory = manifests.fromMemory(target, Reference.parse("v1"), ACCEPT);
        assertTrue(fromMemory.isPresent(), "served from memory, not a miss that waits on the upstream");
        get(manifests, target, "v1");
        assertEquals(1, upstream.heads.get());
        assertEquals(1, upstream.gets.get(), "no GET after the first: Docker Hub counted one pull");
        assertEquals(1.0, counter("pullthrough_tag_refresh_waits_avoided_total{upstream=\"fake\"}"));
    }

    @Test
    void hotTag_servedFromMemoryOnTheEventLoop_countsAndRefreshesToo() throws Exception {
        CountingUpstream upstream = new CountingUpstream("tagTtl: 5m");
        ManifestService manifests = service(Runnable::run);
        Target target = target(upstream, "team/memory");
        get(manifests, target, "v1");
        clock.advance(Duration.ofSeconds(275));
        for (int i = 0; i < 3; i++) {
            assertTrue(manifests.fromMemory(target, Reference.parse("v1"), ACCEPT).isPresent());
        }
        assertEquals(1, upstream.heads.get(), "the third hit from memory started the refresh");
    }

    @Test
    void coldTag_notRefreshed_theClientPastItsTtlRevalidatesAsBefore() throws Exception {
        CountingUpstream upstream = new CountingUpstream("tagTtl: 5m");
        ManifestService manifests = service(Runnable::run);
        Target target = target(upstream, "team/cold");
        get(manifests, target, "v1");
        clock.advance(Duration.ofSeconds(280));
        get(manifests, target, "v1"); // one hit since the confirmation: cold
        assertEquals(0, upstream.heads.get(), "a tag pulled once per TTL costs no request it would not cost anyway");
        clock.advance(Duration.ofSeconds(30));
        get(manifests, target, "v1");
        assertEquals(1, upstream.heads.get(), "past its TTL: the client's own HEAD, as before");
        assertEquals(0.0, counter("pullthrough_tag_refreshes_total{outcome=\"renewed\",upstream=\"fake\"}"));
    }

    @Test
    void refreshAheadOff_hotTagWaitsForItsTtlLikeACold() throws Exception {
        CountingUpstream upstream = new CountingUpstream("tagTtl: 5m", "refreshAhead: false");
        ManifestService manifests = service(Runnable::run);
        Target target = target(upstream, "team/off");
        get(manifests, target, "v1");
        clock.advance(Duration.ofSeconds(280));
        for (int i = 0; i < 5; i++) {
            get(manifests, target, "v1");
        }
        assertEquals(0, upstream.heads.get());
    }

    @Test
    void clientsOfAHotTag_neverWaitForTheRefreshHead() throws Exception {
        pool = Executors.newFixedThreadPool(2);
        CountingUpstream upstream = new CountingUpstream("tagTtl: 5m");
        ManifestService manifests = service(pool);
        Target target = target(upstream, "team/held");
        get(manifests, target, "v1");
        CompletableFuture<UpstreamResult<ManifestHead>> held = new CompletableFuture<>();
        upstream.heldHead.set(held);
        clock.advance(Duration.ofSeconds(275));
        for (int i = 0; i < 10; i++) {
            getWithin(manifests, target, "v1"); // times out if any client waited on the held HEAD
        }
        Await.until(() -> upstream.heads.get() == 1, "the refresh's HEAD was sent");
        assertFalse(held.isDone());
        for (int i = 0; i < 10; i++) {
            getWithin(manifests, target, "v1");
        }
        assertEquals(1, upstream.heads.get(), "one refresh in flight, however many hits");
        held.complete(UpstreamResult.ok(new ManifestHead(Optional.of(DIGEST.toString()))));
        Await.until(() -> counter("pullthrough_tag_refreshes_total{outcome=\"renewed\",upstream=\"fake\"}") == 1.0,
                "the refresh renewed the tag");
        clock.advance(Duration.ofSeconds(40));
        get(manifests, target, "v1");
        assertEquals(1, upstream.heads.get());
        assertEquals(1, upstream.gets.get());
    }

    /** Waits on a condition with a generous deadline, never a fixed sleep. */
    private static final class Await {
        static void until(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!condition.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("not within 10 s: " + what);
                }
                Thread.sleep(5);
            }
        }
    }

    /** One manifest under any tag; counts GETs and HEADs; a HEAD may be held by the test. */
    private static final class CountingUpstream extends TestUpstream {
        final AtomicInteger gets = new AtomicInteger();
        final AtomicInteger heads = new AtomicInteger();
        final AtomicReference<CompletableFuture<UpstreamResult<ManifestHead>>> heldHead = new AtomicReference<>();

        CountingUpstream(String... settings) {
            super(settings);
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
            gets.incrementAndGet();
            return CompletableFuture.completedFuture(UpstreamResult.ok(
                    new ManifestBody(MediaTypes.OCI_MANIFEST, Optional.of(DIGEST.toString()), MANIFEST)));
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference,
                                                                           List<String> accept) {
            heads.incrementAndGet();
            CompletableFuture<UpstreamResult<ManifestHead>> held = heldHead.get();
            return held != null ? held : CompletableFuture.completedFuture(UpstreamResult.ok(new ManifestHead(Optional.of(DIGEST.toString()))));
        }
    }
}
