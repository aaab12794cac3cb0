package dev.pullthrough.storage.maintenance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Eviction order and bounds, on the real RocksDB index and blob files. */
class CacheJanitorTest {
    @TempDir
    Path dir;

    private RocksMetadataStore metadata;
    private FileBlobStore blobs;
    private final Set<Digest> inUse = new HashSet<>();
    private final List<IndexEntry> evicted = Collections.synchronizedList(new ArrayList<>());
    /** The background passes the janitor asked for, run when a test says so. */
    private final List<Runnable> passes = new ArrayList<>();
    private final Clock clock = Clock.fixed(Instant.ofEpochMilli(1_000_000), ZoneOffset.UTC);

    @BeforeEach
    void open() throws IOException {
        metadata = new RocksMetadataStore(dir.resolve("meta"));
        blobs = new FileBlobStore(new BlobPaths(dir.resolve("blobs")));
    }

    @AfterEach
    void close() {
        metadata.close();
    }

    /** Stores blob {@code n} of {@code size} bytes, last accessed at {@code accessMillis}. */
    private Digest cache(int n, int size, long accessMillis) throws IOException {
        byte[] bytes = new byte[size];
        byte[] label = ("blob " + n).getBytes(StandardCharsets.UTF_8);
        System.arraycopy(label, 0, bytes, 0, Math.min(label.length, size));
        Digest digest = BlobFiles.write(blobs, bytes);
        metadata.putBlob(digest, size, accessMillis);
        return digest;
    }

    /** Stores {@code count} blobs of {@code size} bytes, blob i last accessed at 1,000 + i ms. */
    private List<Digest> fill(int count, int size) throws IOException {
        List<Digest> digests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            digests.add(cache(i, size, 1_000 + i));
        }
        return digests;
    }

    private CacheJanitor janitor(long maxSize) {
        return new CacheJanitor(metadata, blobs, maxSize, inUse::contains, evicted::add, clock, passes::add);
    }

    private void runPasses() {
        List<Runnable> waiting = List.copyOf(passes);
        passes.clear();
        waiting.forEach(Runnable::run);
    }

    private List<Digest> evictedDigests() {
        return evicted.stream().map(IndexEntry::digest).toList();
    }

    private boolean cached(Digest digest) throws IOException {
        boolean[] indexed = {false};
        metadata.forEachEntry(entry -> indexed[0] |= entry.digest().equals(digest));
        return indexed[0] && blobs.stat(digest).isPresent();
    }

    @Test
    void makeRoom_evictsLeastRecentlyUsedForItsOwnBytes_thenAPassGoesDownToLowWaterMinusIncoming() throws IOException {
        List<Digest> digests = fill(10, 100);
        CacheJanitor janitor = janitor(1_000);

        assertEquals(2, janitor.makeRoomFor(200)); // 1000 held; the caller evicts down to 1000 - 200 = 800
        assertEquals(800, janitor.used());
        assertEquals(1, passes.size());

        runPasses(); // down to 0.9 * 1000 - 200 = 700
        assertEquals(700, janitor.used());
        for (int i = 0; i < 10; i++) {
            assertEquals(i >= 3, cached(digests.get(i)), "blob " + i);
        }
        assertEquals(digests.subList(0, 3), evictedDigests());
    }

    @Test
    void makeRoom_fits_evictsNothing() throws IOException {
        fill(5, 100);
        assertEquals(0, janitor(1_000).makeRoomFor(500));
        assertTrue(evicted.isEmpty());
        assertTrue(passes.isEmpty());
    }

    @Test
    void makeRoom_inUseAndRecentlyAccessed_kept() throws IOException {
        List<Digest> digests = fill(10, 100);
        CacheJanitor janitor = janitor(1_000);
        inUse.add(digests.get(0));
        janitor.accessed(digests.get(1)); // now (1,000,000 ms): the newest of all

        assertEquals(2, janitor.makeRoomFor(200));
        runPasses();

        assertTrue(cached(digests.get(0)), "in use");
        assertTrue(cached(digests.get(1)), "accessed last");
        assertEquals(digests.subList(2, 5), evictedDigests());
    }

    @Test
    void makeRoom_cacheAlreadyOverItsBound_backWithinItInSeveralSteps_thenAPassToLowWater() throws IOException {
        int count = CacheJanitor.STEP * 2 + 100;
        fill(count, 10);
        long bound = count * 10L / 4; // restarted with a quarter of the bound it was filled under
        CacheJanitor janitor = janitor(bound);

        int own = janitor.makeRoomFor(100);
        assertEquals(count - (int) ((bound - 100) / 10), own, "down to the bound minus what comes in");
        assertTrue(own > CacheJanitor.STEP, "needs more than one step");
        assertEquals(1, passes.size());

        runPasses();
        long target = (long) (bound * CacheJanitor.LOW_WATER) - 100;
        int expected = count - (int) (target / 10);
        assertTrue(expected > CacheJanitor.STEP, "needs more than one step");
        assertEquals(expected, evicted.size());
        assertEquals((count - expected) * 10L, janitor.used());
    }

    @Test
    void added_takesTheCacheOverItsBound_oneBackgroundPassAtATime() throws IOException {
        List<Digest> digests = fill(10, 100);
        CacheJanitor janitor = janitor(1_000);
        janitor.recount();

        janitor.added(0); // at the bound, not over it
        assertTrue(passes.isEmpty());
        janitor.added(100);
        janitor.added(100); // a pass is already waiting to start
        assertEquals(1, passes.size());
        assertTrue(evicted.isEmpty(), "the caller does not evict");

        runPasses(); // 1,200 counted: down to 900
        assertEquals(900, janitor.used());
        assertEquals(digests.subList(0, 3), evictedDigests());
    }

    @Test
    void evictIfNeeded_overBoundAfterRestartWithSmallerBound_backWithin() throws IOException {
        fill(10, 100);
        CacheJanitor janitor = janitor(500); // the cache was filled under a bound of 1000

        janitor.evictIfNeeded();

        assertEquals(400, janitor.used()); // low water: 0.9 * 500 = 450, in whole blobs of 100
        assertFalse(evicted.isEmpty());
    }

    @Test
    void evictIfNeeded_slowIndexReads_eachStepEndsAtItsReadBudget_andThePassStillReachesLowWater() throws IOException {
        List<Digest> digests = fill(20, 100);
        inUse.addAll(digests.subList(0, 3));
        // Every look at an entry costs 4 ms of the ticker and is traced ("look"), and so is each
        // eviction ("evict"): a step's evictions come together, after its looks.
        long[] now = {0};
        List<String> trace = Collections.synchronizedList(new ArrayList<>());
        CacheJanitor janitor = new CacheJanitor(metadata, blobs, 1_000, digest -> {
            now[0] += 4_000_000;
            trace.add("look");
            return inUse.contains(digest);
        }, entry -> {
            trace.add("evict");
            evicted.add(entry);
        }, clock, passes::add, () -> now[0]);

        janitor.evictIfNeeded(); // 2,000 held: down to 900

        assertEquals(900, janitor.used());
        assertEquals(digests.subList(3, 14), evictedDigests());
        // 10 ms of reading: a step reads no more than 3 entries (0, 4 and 8 ms in) once it has found
        // one to evict, so it evicts at most 3; the first step reads past the three blobs in use
        // (12 ms) to the one it evicts.
        List<Integer> evictionsPerStep = new ArrayList<>();
        int evictions = 0;
        for (String event : trace) {
            if (event.equals("evict")) {
                evictions++;
            } else if (evictions > 0) {
                evictionsPerStep.add(evictions);
                evictions = 0;
            }
        }
        evictionsPerStep.add(evictions);
        assertEquals(List.of(1, 3, 3, 3, 1), evictionsPerStep);
        assertTrue(cached(digests.get(0)) && cached(digests.get(2)));
    }

    @Test
    void evictIfNeeded_whileAnotherPassDeletesFiles_proceedsWithoutWaitingForIt() throws Exception {
        fill(200, 100); // 20,000 held; bound 10,000: down to 9,000, i.e. the 110 oldest go
        CountDownLatch firstDeleting = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean held = new AtomicBoolean();
        CacheJanitor janitor = new CacheJanitor(metadata, blobs, 10_000, inUse::contains, entry -> {
            evicted.add(entry);
            if (held.compareAndSet(false, true)) {
                firstDeleting.countDown(); // the first pass is deleting its step's files: hold it there
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }, clock, Runnable::run);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            Future<Integer> first = threads.submit(janitor::evictIfNeeded);
            assertTrue(firstDeleting.await(10, TimeUnit.SECONDS));

            int second = threads.submit(janitor::evictIfNeeded).get(10, TimeUnit.SECONDS); // not behind the first's deletes
            release.countDown();

            assertEquals(110 - CacheJanitor.STEP, second);
            assertEquals(CacheJanitor.STEP, first.get(10, TimeUnit.SECONDS));
            assertEquals(9_000, janitor.used());
            assertEquals(110, evicted.size());
        } finally {
            release.countDown();
            threads.shutdownNow();
        }
    }
}
