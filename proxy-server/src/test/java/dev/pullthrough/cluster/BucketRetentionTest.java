package dev.pullthrough.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.bucket.BucketRedirects;
import dev.pullthrough.bucket.BucketRetention;
import dev.pullthrough.bucket.RetentionPass;
import dev.pullthrough.bucket.UseLedger;
import dev.pullthrough.bucket.UseRecording;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.e2e.RedisServer;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.proxy.Target;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import dev.pullthrough.storage.s3.BucketFsck;
import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.storage.s3.S3ProxyServer;
import dev.pullthrough.testing.MovableClock;
import dev.pullthrough.upstream.Upstream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code storage.s3.retention} (issue 30) on the real S3Proxy and redis-server, time moved by the
 * test: what no replica used for the retention goes, what is used or named by a cached tag stays, an
 * upload a killed replica left is aborted after a day, two replicas never run the pass at once, and
 * the bucket's fsck is clean afterwards.
 */
class BucketRetentionTest {
    private static final Duration RETENTION = Duration.ofDays(30);
    private static final String INDEX_TYPE = "application/vnd.oci.image.index.v1+json";
    private static final String MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

    @TempDir
    Path dir;

    private S3ProxyServer s3;
    private S3Bucket bucket;
    private RedisServer redis;
    private final List<RedisLink> links = new ArrayList<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    /** Starts at the real time now: S3Proxy stamps an upload's start with it. */
    private final MovableClock clock = new MovableClock();

    @BeforeEach
    void start() throws Exception {
        clock.advance(Duration.between(clock.instant(), Instant.now()));
        s3 = S3ProxyServer.start(dir.resolve("s3proxy"));
        bucket = S3Bucket.open(s3.config("retention", ""));
        bucket.createIfMissing().join();
        redis = RedisServer.start(dir.resolve("redis"));
    }

    @AfterEach
    void stop() throws Exception {
        timer.shutdownNow();
        links.forEach(RedisLink::close);
        bucket.close();
        s3.close();
        redis.close();
    }

    private RedisRetention replica(String name) {
        RedisLink link = RedisLink.open(redis.uri(), Optional.empty(), up -> { });
        links.add(link);
        return new RedisRetention(link, name);
    }

    // ---------------------------------------------------------------- what the pass deletes and keeps

    @Test
    void pass_deletesUnusedPastRetention_keepsUsedAndTagged_abortsAbandonedUpload_fsckClean() throws Exception {
        RedisRetention ledger = replica("replica-a");
        Digest used = putBlob("used layer");
        Digest unused = putBlob("a layer nobody pulls any more");
        Digest config = putBlob("{\"architecture\":\"amd64\"}");
        Digest layer = putBlob("tagged layer");
        Digest manifest = putManifest(MANIFEST_TYPE, "{\"schemaVersion\":2,\"mediaType\":\"" + MANIFEST_TYPE + "\","
                + "\"config\":" + descriptor("application/vnd.oci.image.config.v1+json", config, 24) + ","
                + "\"layers\":[" + descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer, 12) + "]}");
        Digest index = putManifest(INDEX_TYPE, "{\"schemaVersion\":2,\"mediaType\":\"" + INDEX_TYPE + "\",\"manifests\":["
                + descriptor(MANIFEST_TYPE, manifest, 200) + "]}");
        link(used);
        link(unused);
        // A replica killed mid-upload: the multipart upload is begun, a part sent, and never completed.
        Path part = Files.write(dir.resolve("part"), new byte[1024]);
        String killedKey = bucket.key(S3Bucket.Kind.BLOBS, Digest.sha256Of(new byte[] {1}));
        String uploadId = bucket.startUpload(killedKey, "application/octet-stream").join();
        bucket.uploadPart(killedKey, uploadId, 1, part, 0, 1024, Executors.newSingleThreadExecutor()).join();

        // Every object served once, through the recording every replica puts under its index.
        UseRecording recording = new UseRecording(noIndex(), ledger, clock);
        Map<Digest, Long> served = Map.of(used, clock.millis(), unused, clock.millis(), config, clock.millis(),
                layer, clock.millis(), manifest, clock.millis(), index, clock.millis());
        recording.touch(served);
        waitFor(() -> ledger.lastUses(List.copyOf(served.keySet())).stream().allMatch(Optional::isPresent), "the uses recorded");
        List<RetentionPass> passes = new CopyOnWriteArrayList<>();
        BucketRetention retention = new BucketRetention(bucket, RETENTION, ledger, ledger, clock, "replica-a", passes::add);

        clock.advance(Duration.ofHours(2));
        RetentionPass early = retention.runIfDue().orElseThrow();
        assertEquals(0, early.deletedObjects());
        assertEquals(0, early.uploadsAborted(), "an upload 2 h old may still be under way");
        assertEquals(1, bucket.unfinishedUploads().size());

        clock.advance(Duration.ofHours(24));
        RetentionPass dayLater = retention.runIfDue().orElseThrow();
        assertEquals(1, dayLater.uploadsAborted(), "the killed replica's upload, a day old");
        assertEquals(List.of(), bucket.unfinishedUploads());
        assertEquals(0, dayLater.deletedObjects());

        // A cached tag resolves to the index, for tagTtl + maxStale (RedisTags keeps it that long).
        TagKey tag = TagKey.own("hub", "library/app", "1.0");
        RedisTags tags = new RedisTags(links.get(0), new RedisLeases(links.get(0)), "replica-a", timer);
        tags.put(tag, new TagResolution(index, INDEX_TYPE, clock.millis()), Duration.ofHours(1));
        waitFor(() -> tags.get(List.of(tag)).containsKey(tag), "the tag shared");
        clock.advance(Duration.ofDays(20));
        recording.touch(Map.of(used, clock.millis()));
        waitFor(() -> ledger.lastUses(List.of(used)).get(0).orElse(0L) == clock.millis(), "the use 20 days on recorded");

        clock.advance(Duration.ofDays(11));
        RetentionPass month = retention.runIfDue().orElseThrow();
        assertEquals(2, month.deletedObjects(), "the unused blob and its repository link: " + month);
        assertEquals("a layer nobody pulls any more".length(), month.deletedBytes());
        assertEquals(Set.of(used, config, layer), digests(S3Bucket.Kind.BLOBS));
        assertEquals(Set.of(manifest, index), digests(S3Bucket.Kind.MANIFESTS));
        assertEquals(6, month.keptObjects(), "3 blobs, 2 manifests, 1 link: " + month);
        BucketFsck.Report fsck = BucketFsck.check(bucket);
        assertTrue(fsck.clean(), fsck.bad().toString());
        assertEquals(5, fsck.objectsChecked());

        // The tag's time is up (its record expired): its image goes at the next pass, the used blob stays.
        links.get(0).call(r -> r.del(RedisTags.key(tag))).join();
        clock.advance(BucketRetention.PASS_EVERY);
        RetentionPass after = retention.runIfDue().orElseThrow();
        assertEquals(4, after.deletedObjects(), after.toString());
        assertEquals(Set.of(used), digests(S3Bucket.Kind.BLOBS));
        assertEquals(Set.of(), digests(S3Bucket.Kind.MANIFESTS));
        assertTrue(BucketFsck.check(bucket).clean());
        assertEquals(4, passes.size());
    }

    /** A replica uses an object while the pass runs: asked again just before the delete, it is kept. */
    @Test
    void pass_objectUsedDuringThePass_kept() throws Exception {
        RedisRetention ledger = replica("replica-a");
        Digest blob = putBlob("a layer pulled again in the nick of time");
        ledger.record(Map.of(blob, clock.millis())).join();
        clock.advance(RETENTION.plusDays(1));
        AtomicInteger questions = new AtomicInteger();
        UseLedger usedMeanwhile = new ForwardingLedger(ledger) {
            @Override
            public List<Optional<Long>> lastUses(List<Digest> digests) {
                List<Optional<Long>> answer = ledger.lastUses(digests);
                if (questions.incrementAndGet() == 1) {
                    // Between the listing and the delete, another replica serves it.
                    ledger.record(Map.of(blob, clock.millis())).join();
                }
                return answer;
            }
        };

        RetentionPass pass = new BucketRetention(bucket, RETENTION, usedMeanwhile, ledger, clock, "replica-a", done -> { })
                .runIfDue().orElseThrow();

        assertEquals(0, pass.deletedObjects(), pass.toString());
        assertEquals(Set.of(blob), digests(S3Bucket.Kind.BLOBS));
    }

    /** A blob handed out by a presigned URL never reaches the index: the redirect itself counts as its use. */
    @Test
    void redirect_recordsTheUse() throws Exception {
        RedisRetention ledger = replica("replica-a");
        Digest blob = putBlob("a layer fetched straight from the bucket");
        link(blob);
        UseRecording recording = new UseRecording(noIndex(), ledger, clock);
        UpstreamConfig hub = ConfigLoader.fromYaml("upstreams:\n  - name: hub\n    url: http://127.0.0.1:1\n", Map.of())
                .upstreams().get(0);
        Upstream upstream = (Upstream) Proxy.newProxyInstance(Upstream.class.getClassLoader(), new Class<?>[] {Upstream.class},
                (proxy, method, args) -> method.getName().equals("config") ? hub : null);
        RepositoryName repository = RepositoryName.parse("library/app");

        assertTrue(new BucketRedirects(bucket, recording::usedNow)
                .locate(new Target(upstream, repository, repository, "", "default"), blob).isPresent());
        waitFor(() -> ledger.lastUses(List.of(blob)).get(0).equals(Optional.of(clock.millis())), "the redirect recorded as a use");
    }

    // ---------------------------------------------------------------- one replica at a time

    @Test
    void twoReplicas_bothTry_oneRunsThePass() throws Exception {
        putBlob("some layer");
        RedisRetention a = replica("replica-a");
        RedisRetention b = replica("replica-b");
        CountDownLatch inPass = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        AtomicInteger running = new AtomicInteger();
        AtomicInteger mostAtOnce = new AtomicInteger();
        List<RetentionPass> passes = new CopyOnWriteArrayList<>();
        BucketRetention first = new BucketRetention(bucket, RETENTION, held(a, inPass, letGo, running, mostAtOnce), a, clock,
                "replica-a", passes::add);
        BucketRetention second = new BucketRetention(bucket, RETENTION, held(b, new CountDownLatch(1), new CountDownLatch(0),
                running, mostAtOnce), b, clock, "replica-b", passes::add);

        CompletableFuture<Optional<RetentionPass>> firstTry = CompletableFuture.supplyAsync(first::runIfDue);
        assertTrue(inPass.await(30, TimeUnit.SECONDS), "the first replica's pass started");
        Optional<RetentionPass> secondTry = second.runIfDue();
        letGo.countDown();

        assertEquals(Optional.empty(), secondTry, "the other replica holds the pass");
        assertEquals("replica-a", firstTry.get(30, TimeUnit.SECONDS).orElseThrow().replica());
        assertEquals(Optional.empty(), second.runIfDue(), "not due again within the hour");
        assertEquals(1, passes.size());
        assertEquals(1, mostAtOnce.get());

        clock.advance(BucketRetention.PASS_EVERY);
        assertEquals("replica-b", second.runIfDue().orElseThrow().replica(), "an hour on, whichever looks runs it");
        assertEquals(2, passes.size());
        assertEquals(1, mostAtOnce.get());
    }

    // ---------------------------------------------------------------- recording is cheap

    @Test
    void useRecording_eachDigestAtMostOnceAnHour() throws Exception {
        List<Map<Digest, Long>> recorded = new CopyOnWriteArrayList<>();
        UseRecording recording = new UseRecording(noIndex(), counting(recorded), clock);
        Digest blob = Digest.sha256Of("x".getBytes(StandardCharsets.UTF_8));

        recording.touch(Map.of(blob, clock.millis()));
        recording.putBlob(blob, 1, clock.millis());
        clock.advance(Duration.ofMinutes(59));
        recording.touch(Map.of(blob, clock.millis()));
        assertEquals(1, recorded.size(), recorded.toString());

        clock.advance(Duration.ofMinutes(2));
        recording.touch(Map.of(blob, clock.millis()));
        assertEquals(2, recorded.size());
        assertEquals(clock.millis(), recorded.get(1).get(blob));
    }

    // ---------------------------------------------------------------- helpers

    private Digest putBlob(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256Of(bytes);
        bucket.putBytes(bucket.key(S3Bucket.Kind.BLOBS, digest), bytes, "application/octet-stream").join();
        return digest;
    }

    private Digest putManifest(String mediaType, String json) {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256Of(bytes);
        bucket.putBytes(bucket.key(S3Bucket.Kind.MANIFESTS, digest), bytes, mediaType).join();
        return digest;
    }

    private void link(Digest digest) {
        bucket.putBytes(bucket.linkKey("hub", "library/app", digest), new byte[0], "application/octet-stream").join();
    }

    private static String descriptor(String mediaType, Digest digest, long size) {
        return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + digest + "\",\"size\":" + size + "}";
    }

    private Set<Digest> digests(S3Bucket.Kind kind) {
        Set<Digest> found = new TreeSet<>((x, y) -> x.toString().compareTo(y.toString()));
        bucket.forEachKey(kind, key -> bucket.digestOf(kind, key).ifPresent(found::add));
        return Set.copyOf(found);
    }

    /** An index that does nothing: the recording is what is under test. */
    private static MetadataStore noIndex() {
        return (MetadataStore) Proxy.newProxyInstance(MetadataStore.class.getClassLoader(), new Class<?>[] {MetadataStore.class},
                (proxy, method, args) -> null);
    }

    private static UseLedger counting(List<Map<Digest, Long>> recorded) {
        return new ForwardingLedger(null) {
            @Override
            public CompletableFuture<Void> record(Map<Digest, Long> usedAtMillis) {
                recorded.add(usedAtMillis);
                return CompletableFuture.completedFuture(null);
            }
        };
    }

    /** A ledger whose pass stops at its first question until let go, counting the passes running at once. */
    private static UseLedger held(UseLedger ledger, CountDownLatch inPass, CountDownLatch letGo, AtomicInteger running,
                                  AtomicInteger mostAtOnce) {
        return new ForwardingLedger(ledger) {
            @Override
            public List<Optional<Long>> lastUses(List<Digest> digests) {
                mostAtOnce.accumulateAndGet(running.incrementAndGet(), Math::max);
                try {
                    inPass.countDown();
                    letGo.await(30, TimeUnit.SECONDS);
                    return ledger.lastUses(digests);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                } finally {
                    running.decrementAndGet();
                }
            }
        };
    }

    /** A ledger that hands every call to another. */
    private static class ForwardingLedger implements UseLedger {
        private final UseLedger ledger;

        ForwardingLedger(UseLedger ledger) {
            this.ledger = ledger;
        }

        @Override
        public CompletableFuture<Void> record(Map<Digest, Long> usedAtMillis) {
            return ledger.record(usedAtMillis);
        }

        @Override
        public List<Optional<Long>> lastUses(List<Digest> digests) {
            return ledger.lastUses(digests);
        }

        @Override
        public void recordIfAbsent(List<Digest> digests, long atMillis) {
            ledger.recordIfAbsent(digests, atMillis);
        }

        @Override
        public void forget(List<Digest> digests) {
            ledger.forget(digests);
        }

        @Override
        public void forgetBefore(long beforeMillis) {
            ledger.forgetBefore(beforeMillis);
        }
    }

    private static void waitFor(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "not within 30 s: " + what);
            Thread.sleep(20);
        }
    }
}
