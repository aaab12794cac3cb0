package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.ManifestHead;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import dev.pullthrough.testing.MovableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tag decisions in-process, with a counting fake upstream and a clock the test moves: one GET
 * for a fleet of Accept sets, one HEAD per TTL, stale with a warning while the upstream is down,
 * the upstream's own answer for a client no cached manifest fits. No sleeping, no registry.
 */
class ManifestServiceTest {
    private static final String CHILD_DIGEST = "sha256:" + "c".repeat(64);
    private static final byte[] INDEX = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":["
            + "{\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"digest\":\"" + CHILD_DIGEST + "\",\"size\":1}]}")
            .getBytes(StandardCharsets.UTF_8);
    private static final Digest INDEX_DIGEST = Digest.sha256Of(INDEX);
    /** What dockerd, containerd, podman/skopeo and curl list: every one names the index type. */
    private static final List<List<String>> FLEET = List.of(
            List.of(MediaTypes.DOCKER_MANIFEST_V2, MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.OCI_INDEX,
                    MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST_V1_SIGNED, "application/json"),
            List.of(MediaTypes.DOCKER_MANIFEST_V2 + ", " + MediaTypes.DOCKER_MANIFEST_LIST + ", " + MediaTypes.OCI_MANIFEST
                    + ", " + MediaTypes.OCI_INDEX + ", */*"),
            List.of(MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST_V2, MediaTypes.DOCKER_MANIFEST_LIST,
                    MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_V1_SIGNED, "application/vnd.docker.distribution.manifest.v1+json"),
            List.of(MediaTypes.OCI_INDEX + ", " + MediaTypes.DOCKER_MANIFEST_LIST + ", " + MediaTypes.OCI_MANIFEST + ", "
                    + MediaTypes.DOCKER_MANIFEST_V2));

    @TempDir
    Path temp;

    private final MovableClock clock = new MovableClock();
    private final FakeUpstream upstream = new FakeUpstream();
    /** What the replicas of a cluster share (Redis in production). */
    private final MemorySharedTags shared = new MemorySharedTags();
    private final List<RocksMetadataStore> stores = new ArrayList<>();
    private ManifestService manifests;
    private Target target;

    @BeforeEach
    void setUp() throws Exception {
        manifests = replica(temp.resolve("a"), SharedTags.NONE);
        RepositoryName name = RepositoryName.parse("team/app");
        target = new Target(upstream, name, name, null, "default");
    }

    /** A manifest service with its own store; {@code tags} what it shares with others. */
    private ManifestService replica(Path dir, SharedTags tags) throws Exception {
        BlobPaths paths = new BlobPaths(dir);
        RocksMetadataStore rocks = new RocksMetadataStore(paths.metadataDir());
        stores.add(rocks);
        CachedMetadataStore metadata = new CachedMetadataStore(rocks, 1 << 20, 1 << 20);
        CacheJanitor janitor = new CacheJanitor(metadata, new FileBlobStore(paths), 1L << 30, d -> false, e -> { }, clock, Runnable::run);
        return new ManifestService(metadata, metadata, new ManifestAdmission(metadata, janitor), janitor, new Metrics(),
                clock, false, Runnable::run, tags);
    }

    @AfterEach
    void tearDown() {
        stores.forEach(RocksMetadataStore::close);
    }

    private ProxyResponse get(List<String> accept) {
        return manifests.get(target, Reference.parse("v1"), accept).join();
    }

    // ---------------------------------------------------------------- one pull for the fleet

    @Test
    void get_fleetOfAcceptSets_oneUpstreamGet() {
        for (List<String> accept : FLEET) {
            ProxyResponse.Manifest answer = assertInstanceOf(ProxyResponse.Manifest.class, get(accept));
            assertEquals(INDEX_DIGEST, answer.digest());
            assertEquals(MediaTypes.OCI_INDEX, answer.mediaType());
        }
        assertEquals(1, upstream.gets.get());
        assertEquals(0, upstream.heads.get());
    }

    @Test
    void get_afterTtl_oneHeadRevalidatesForEveryAcceptSet() {
        get(FLEET.get(0));
        clock.advance(Duration.ofMinutes(6));
        for (List<String> accept : FLEET) {
            assertEquals(INDEX_DIGEST, assertInstanceOf(ProxyResponse.Manifest.class, get(accept)).digest());
        }
        assertEquals(1, upstream.gets.get(), "an unchanged digest is not fetched again");
        assertEquals(1, upstream.heads.get(), "one HEAD refreshed the tag for all of them");
    }

    @Test
    void get_upstreamDownPastTtl_staleWithWarningForEveryFittingClient() {
        get(FLEET.get(0));
        upstream.down = true;
        clock.advance(Duration.ofMinutes(6));
        for (List<String> accept : FLEET) {
            ProxyResponse.Manifest stale = assertInstanceOf(ProxyResponse.Manifest.class, get(accept));
            assertEquals(INDEX_DIGEST, stale.digest());
            assertTrue(stale.headers().get("Warning").startsWith("299 - "), stale.headers().toString());
        }
        clock.advance(Duration.ofDays(8));
        ProxyResponse.Error tooOld = assertInstanceOf(ProxyResponse.Error.class, get(FLEET.get(1)));
        assertEquals(ErrorCode.UPSTREAM_UNAVAILABLE, tooOld.error().code(), "past maxStale the outage is the answer");
    }

    @Test
    void get_clientListingNoCachedType_upstreamAnswersAndErrorSaysWhatIsCached() {
        get(FLEET.get(0));
        upstream.down = true;
        ProxyResponse.Error refused = assertInstanceOf(ProxyResponse.Error.class, get(List.of(MediaTypes.DOCKER_MANIFEST_V2)));
        assertEquals(ErrorCode.UPSTREAM_UNAVAILABLE, refused.error().code());
        assertTrue(refused.error().message().contains("is cached as " + MediaTypes.OCI_INDEX), refused.error().message());
        assertEquals(1, upstream.heads.get(), "something of the tag is cached: HEAD first");
    }

    @Test
    void get_clientListingNoCachedType_itsAcceptGoesUpstreamAsSent() {
        get(FLEET.get(0));
        upstream.tagAccepts.clear();
        List<String> dockerV2Only = List.of(MediaTypes.DOCKER_MANIFEST_V2);
        ProxyResponse.Error refused = assertInstanceOf(ProxyResponse.Error.class, get(dockerV2Only),
                "the upstream has nothing for this Accept: its answer, not the cached index");
        assertEquals(ErrorCode.MANIFEST_UNKNOWN, refused.error().code(), refused.error().message());
        assertTrue(!upstream.tagAccepts.isEmpty(), "the upstream was asked");
        upstream.tagAccepts.forEach(sent -> assertEquals(dockerV2Only, sent, "the client's Accept, as sent"));
    }

    // ---------------------------------------------------------------- replicas sharing tag resolutions

    @Test
    void shared_anotherReplicaWithinTtl_noRequestByTag_theBytesByDigest() throws Exception {
        ManifestService a = replica(temp.resolve("ra"), shared);
        ManifestService b = replica(temp.resolve("rb"), shared);
        assertEquals(INDEX_DIGEST, manifest(a, FLEET.get(0)).digest());
        clock.advance(Duration.ofMinutes(1));
        for (List<String> accept : FLEET) {
            assertEquals(INDEX_DIGEST, manifest(b, accept).digest());
        }
        assertEquals(1, upstream.gets.get(), "one GET by tag for both replicas");
        assertEquals(0, upstream.heads.get());
        assertEquals(1, upstream.digestGets.get(), "B read the index once by digest (the bucket, in a cluster)");
    }

    @Test
    void shared_pastTtl_oneHeadByOneReplicaRefreshesTheTagForAll() throws Exception {
        ManifestService a = replica(temp.resolve("ra"), shared);
        ManifestService b = replica(temp.resolve("rb"), shared);
        manifest(a, FLEET.get(0));
        clock.advance(Duration.ofMinutes(6));
        assertEquals(INDEX_DIGEST, manifest(b, FLEET.get(1)).digest());
        assertEquals(1, upstream.heads.get(), "B revalidated another replica's answer with a HEAD");
        assertEquals(INDEX_DIGEST, manifest(a, FLEET.get(2)).digest());
        assertEquals(1, upstream.heads.get(), "A took B's fresh check instead of asking again");
        assertEquals(1, upstream.gets.get());
    }

    @Test
    void shared_upstreamDown_aReplicaThatNeverSawTheTagServesItStale() throws Exception {
        ManifestService a = replica(temp.resolve("ra"), shared);
        ManifestService b = replica(temp.resolve("rb"), shared);
        manifest(a, FLEET.get(0));
        clock.advance(Duration.ofMinutes(6));
        upstream.down = true;
        upstream.downByDigest = false; // the bucket still answers by digest
        ProxyResponse.Manifest stale = manifest(b, FLEET.get(3));
        assertEquals(INDEX_DIGEST, stale.digest());
        assertTrue(stale.headers().get("Warning").startsWith("299 - "), stale.headers().toString());
    }

    @Test
    void shared_resolutionWhoseBytesDoNotMatch_ignored_theUpstreamAsked() throws Exception {
        ManifestService b = replica(temp.resolve("rb"), shared);
        Digest bogus = Digest.parse("sha256:" + "e".repeat(64));
        shared.put(TagKey.own("fake", "team/app", "v1"), new TagResolution(bogus, MediaTypes.OCI_INDEX, clock.millis()),
                Duration.ofDays(1));
        assertEquals(INDEX_DIGEST, manifest(b, FLEET.get(0)).digest(), "the bytes by that digest hash to another: not served");
        assertEquals(1, upstream.gets.get(), "the upstream's answer by tag instead");
    }

    @Test
    void shared_anotherReplicaAsksTheUpstreamNow_thisOneWaitsForItsAnswer() throws Exception {
        ManifestService b = replica(temp.resolve("rb"), shared);
        String tag = "fake\0team/app\0v1";
        assertTrue(shared.lead(tag).join(), "another replica leads: it is asking the upstream");
        CompletableFuture<ProxyResponse> waiting = CompletableFuture.supplyAsync(
                () -> b.get(target, Reference.parse("v1"), FLEET.get(1)).join());
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (shared.waiting.get() == 0) {
            assertTrue(System.nanoTime() < deadline, "B waits for the other replica");
            Thread.sleep(5);
        }
        shared.put(TagKey.own("fake", "team/app", "v1"), new TagResolution(INDEX_DIGEST, MediaTypes.OCI_INDEX, clock.millis()),
                Duration.ofDays(1));
        shared.done(tag);
        assertEquals(INDEX_DIGEST, assertInstanceOf(ProxyResponse.Manifest.class, waiting.get(10, TimeUnit.SECONDS)).digest());
        assertEquals(0, upstream.gets.get(), "no request by tag from B");
        assertEquals(0, upstream.heads.get());
    }

    private ProxyResponse.Manifest manifest(ManifestService replica, List<String> accept) {
        return assertInstanceOf(ProxyResponse.Manifest.class, replica.get(target, Reference.parse("v1"), accept).join());
    }

    // ---------------------------------------------------------------- the fakes

    /** Shared tag resolutions in memory, newer wins. */
    private static final class MemorySharedTags implements SharedTags {
        private final Map<TagKey, TagResolution> tags = new ConcurrentHashMap<>();

        @Override
        public Map<TagKey, TagResolution> get(List<TagKey> keys) {
            Map<TagKey, TagResolution> found = new HashMap<>();
            keys.forEach(key -> Optional.ofNullable(tags.get(key)).ifPresent(r -> found.put(key, r)));
            return found;
        }

        @Override
        public void put(TagKey key, TagResolution resolution, Duration keep) {
            tags.merge(key, resolution, (old, now) -> now.checkedAtMillis() >= old.checkedAtMillis() ? now : old);
        }

        /** Tags some replica asks the upstream about now, each with what completes when it is done. */
        private final Map<String, CompletableFuture<Boolean>> leads = new ConcurrentHashMap<>();
        final AtomicInteger waiting = new AtomicInteger();

        @Override
        public synchronized CompletableFuture<Boolean> lead(String tag) {
            CompletableFuture<Boolean> held = leads.get(tag);
            if (held == null) {
                leads.put(tag, new CompletableFuture<>());
                return CompletableFuture.completedFuture(true);
            }
            waiting.incrementAndGet();
            return held;
        }

        @Override
        public synchronized void done(String tag) {
            CompletableFuture<Boolean> held = leads.remove(tag);
            if (held != null) {
                held.complete(false);
            }
        }
    }

    /**
     * An upstream holding one tag, an OCI index; counts GETs and HEADs; can be down. Like a registry it
     * answers the index only to an Accept that lists its type (or {@code *}{@code /*}), and "not found"
     * otherwise, so a wrong Accept sent upstream shows (issue 29).
     */
    private static final class FakeUpstream extends TestUpstream {
        /** GETs by tag; by digest counted apart. */
        final AtomicInteger gets = new AtomicInteger();
        final AtomicInteger digestGets = new AtomicInteger();
        final AtomicInteger heads = new AtomicInteger();
        volatile boolean down;
        /** Whether reads by digest fail too while down. */
        volatile boolean downByDigest = true;
        /** The Accept of every request by tag, in order. */
        final List<List<String>> tagAccepts = new java.util.concurrent.CopyOnWriteArrayList<>();

        FakeUpstream() {
            super("tagTtl: 5m", "maxStale: 7d");
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
            boolean byDigest = reference.contains(":");
            (byDigest ? digestGets : gets).incrementAndGet();
            if (!byDigest) {
                tagAccepts.add(List.copyOf(accept));
            }
            if (down && (!byDigest || downByDigest)) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.Unavailable("connection refused")));
            }
            if (!byDigest && !listsTheIndex(accept)) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.NotFound()));
            }
            return CompletableFuture.completedFuture(UpstreamResult.ok(
                    new ManifestBody(MediaTypes.OCI_INDEX, Optional.of(INDEX_DIGEST.toString()), INDEX)));
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference,
                                                                           List<String> accept) {
            heads.incrementAndGet();
            if (!reference.contains(":")) {
                tagAccepts.add(List.copyOf(accept));
            }
            if (down) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.Unavailable("connection refused")));
            }
            if (!reference.contains(":") && !listsTheIndex(accept)) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.NotFound()));
            }
            return CompletableFuture.completedFuture(UpstreamResult.ok(new ManifestHead(Optional.of(INDEX_DIGEST.toString()))));
        }

        private static boolean listsTheIndex(List<String> accept) {
            return accept.stream().flatMap(header -> java.util.Arrays.stream(header.split(",")))
                    .map(type -> type.split(";")[0].trim())
                    .anyMatch(type -> type.equals(MediaTypes.OCI_INDEX) || type.equals("*/*"));
        }



    }
}
