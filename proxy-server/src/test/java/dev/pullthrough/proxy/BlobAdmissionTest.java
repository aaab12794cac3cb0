package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.BlobWriter;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.BodySink;
import dev.pullthrough.upstream.BodySource;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, in-process: a blob is admitted to the cache only when its size fits (declared, or
 * counted as a body without a length arrives); one that does not is passed through with nothing
 * evicted and nothing committed, and a pass-through is held to the download's rate floor. A
 * counting fake upstream whose bodies the test feeds; time for the rate floor moved by the test.
 */
class BlobAdmissionTest {
    /** Half of it, 512 KiB, is the largest blob the cache takes. */
    private static final long MAX_SIZE = 1L << 20;
    private static final int CHUNK = 64 * 1024;

    @TempDir
    Path temp;

    private final ExecutorService downloads = Executors.newFixedThreadPool(2);
    private final FakeUpstream upstream = new FakeUpstream();
    private final List<IndexEntry> evicted = new CopyOnWriteArrayList<>();
    private RocksMetadataStore rocks;
    private FileBlobStore store;
    private BlobPaths paths;
    private CacheJanitor janitor;
    private BlobService blobs;

    @BeforeEach
    void setUp() throws Exception {
        paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        store = new FileBlobStore(paths);
        CachedMetadataStore metadata = new CachedMetadataStore(rocks, 1 << 20, 1 << 20);
        janitor = new CacheJanitor(metadata, store, MAX_SIZE, d -> false, evicted::add, Clock.systemUTC(), Runnable::run);
        blobs = new BlobService(store, metadata, janitor, new BlobLeases(), new Metrics(), downloads, 4, Runnable::run,
                Clock.systemUTC(), false);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        downloads.shutdown();
        assertTrue(downloads.awaitTermination(10, TimeUnit.SECONDS));
        rocks.close();
    }

    // ---------------------------------------------------------------- declared sizes

    @Test
    void get_declaredLargerThanTheCacheTakes_passedThroughNothingEvicted() throws Exception {
        List<Digest> cached = fill(4, 200 * 1024); // 800 KiB of 1 MiB
        Digest huge = Digest.sha256Of("a petabyte, they say".getBytes());
        upstream.answer = () -> new FedBody(1_000_000_000_000_000L);

        ProxyResponse answer = get(huge);

        ProxyResponse.BlobPassThrough passed = assertInstanceOf(ProxyResponse.BlobPassThrough.class, answer);
        assertEquals(1_000_000_000_000_000L, passed.size());
        assertEquals(2, upstream.gets.get(), "the download's answer, then the client's own stream");
        assertTrue(upstream.bodies.get(0).cancelled.contains("cache"), "the download's body was let go");
        assertEquals(List.of(), evicted, "nothing evicted for a blob that does not fit");
        assertAllCached(cached);
        assertEquals(0, janitor.reserved(), "no room held");
        passed.release();
    }

    @Test
    void get_declaredFits_evictsOnlyForItsOwnBytes() throws Exception {
        List<Digest> cached = fill(8, 100 * 1024); // 800 KiB of 1 MiB
        byte[] bytes = random(300 * 1024, 3);
        upstream.answer = () -> new FedBody(bytes.length);

        ProxyResponse.BlobStream stream = assertInstanceOf(ProxyResponse.BlobStream.class, get(Digest.sha256Of(bytes)));
        assertEquals(List.of(), evicted, "nothing evicted for bytes that have not arrived");
        upstream.bodies.get(0).send(bytes);
        await(() -> store.stat(Digest.sha256Of(bytes)).isPresent() && janitor.reserved() == 0,
                "committed, and the room went back once the index counted the blob");
        assertEquals(2, evicted.size(), "800 + 300 KiB: one for its bytes, one more down to the low-water mark, no more");
        stream.release();
        assertEquals(bytes.length, store.stat(Digest.sha256Of(bytes)).orElseThrow().size());
        assertAllCached(cached.subList(2, 8));
    }

    // ---------------------------------------------------------------- bodies without a length

    @Test
    void get_chunkedBodyCrossesWhatOneBlobMayTake_cutOverToPassThroughNothingCommittedNothingEvicted() throws Exception {
        List<Digest> cached = fill(4, 100 * 1024); // 400 KiB of 1 MiB
        byte[] bytes = random(3 << 20, 5); // 3 MiB, six times what one blob may take
        Digest digest = Digest.sha256Of(bytes);
        upstream.answer = () -> new FedBody(-1);

        CompletableFuture<ProxyResponse> answer = blobs.get(target(), digest, false, Optional.empty());
        FedBody download = upstream.awaitBody(0);
        int sent = download.sendUntilCancelled(bytes);

        ProxyResponse.BlobPassThrough passed = assertInstanceOf(ProxyResponse.BlobPassThrough.class, answer.get(10, TimeUnit.SECONDS));
        assertEquals(-1, passed.size(), "the client gets it without a length too");
        assertTrue(sent <= janitor.largestAdmitted() + 2 * CHUNK, "cut once it crossed: " + sent + " bytes sent");
        assertTrue(download.cancelled.contains("largest") || download.cancelled.contains("more than one blob may take"),
                download.cancelled);
        assertEquals(List.of(), evicted, "nothing evicted");
        assertAllCached(cached);
        assertTrue(store.stat(digest).isEmpty(), "nothing committed");
        assertEquals(List.of(), tempFiles(), "no partial file left");
        assertEquals(0, janitor.reserved(), "no room held");
        assertEquals(2, upstream.gets.get(), "the cut download, then the client's own stream");

        // The client's own stream: the whole body, one correct body, from the first byte.
        CollectingSink client = new CollectingSink();
        passed.body().stream(client);
        upstream.awaitBody(1).send(bytes);
        assertArrayEquals(bytes, client.bytes());
        awaitInFlight(0, "the pass-through ended");
    }

    @Test
    void get_blobFoundTooLargeBefore_nextClientPassedThroughAtOnceWithoutDownloadingAgain() throws Exception {
        byte[] bytes = random(1 << 20, 11); // twice what one blob may take
        Digest digest = Digest.sha256Of(bytes);
        upstream.answer = () -> new FedBody(-1);
        CompletableFuture<ProxyResponse> first = blobs.get(target(), digest, false, Optional.empty());
        upstream.awaitBody(0).sendUntilCancelled(bytes);
        assertInstanceOf(ProxyResponse.BlobPassThrough.class, first.get(10, TimeUnit.SECONDS)).release();
        assertEquals(2, upstream.gets.get());

        ProxyResponse second = get(digest);

        assertInstanceOf(ProxyResponse.BlobPassThrough.class, second);
        assertEquals(3, upstream.gets.get(), "its own stream only: no download up to the bound again");
        assertEquals(0, janitor.reserved(), "no room held for it");
        second.release();
        IOException prefetch = assertThrows(IOException.class, () -> blobs.ensureCached(target(), digest));
        assertTrue(prefetch.getMessage().contains("storage.maxSize"), prefetch.getMessage());
        assertEquals(3, upstream.gets.get(), "a prefetch is told at once, no download");
    }

    @Test
    void get_declaresMuchSendsLittle_evictsOnlyForWhatArrived() throws Exception {
        List<Digest> cached = fill(8, 100 * 1024); // 800 KiB of 1 MiB
        Digest digest = Digest.sha256Of("declares 500 KiB, sends 64 KiB, stalls".getBytes());
        upstream.answer = () -> new FedBody(500 * 1024);

        assertInstanceOf(ProxyResponse.BlobStream.class, get(digest));
        FedBody body = upstream.awaitBody(0);
        AtomicInteger written = new AtomicInteger();
        body.sink.onBytes(ByteBuffer.wrap(new byte[CHUNK]), written::incrementAndGet);
        await(() -> written.get() == 1, "the first 64 KiB written");

        assertEquals(List.of(), evicted, "800 KiB + 64 KiB + a step of room fit: nothing evicted for the declared 500 KiB");
        assertAllCached(cached);
        body.cancel("the test ends it");
        await(() -> janitor.reserved() == 0, "the room went back");
    }

    @Test
    void get_chunkedBodyThatFits_committedAndItsRoomGivenBack() throws Exception {
        byte[] bytes = random(300 * 1024, 9);
        Digest digest = Digest.sha256Of(bytes);
        upstream.answer = () -> new FedBody(-1);

        CompletableFuture<ProxyResponse> answer = blobs.get(target(), digest, false, Optional.empty());
        upstream.awaitBody(0).send(bytes);

        assertInstanceOf(ProxyResponse.BlobStream.class, answer.get(10, TimeUnit.SECONDS)).release();
        await(() -> janitor.used() == bytes.length && janitor.reserved() == 0,
                "indexed, and the room went back once the index counted the blob");
        assertEquals(bytes.length, store.stat(digest).orElseThrow().size());
    }

    // ---------------------------------------------------------------- pass-through deadlines

    @Test
    void passThrough_upstreamStallsPastTheRateWindow_cutAndForgotten() throws Exception {
        Digest huge = Digest.sha256Of("stalls".getBytes());
        upstream.answer = () -> new FedBody(1L << 40);
        ProxyResponse.BlobPassThrough passed = assertInstanceOf(ProxyResponse.BlobPassThrough.class, get(huge));
        CollectingSink client = new CollectingSink();
        passed.body().stream(client);
        FedBody body = upstream.awaitBody(1);
        body.sink.onBytes(ByteBuffer.wrap(new byte[CHUNK]), () -> { }); // 64 KiB, then silence
        // The refused download leaves the count just after its clients were told.
        awaitInFlight(1, "the pass-through counts as a transfer in flight");

        passed.body().abortIfTooSlow(System.nanoTime() + TimeUnit.SECONDS.toNanos(1)); // within the window
        assertNull(body.cancelled, "not cut within its window");
        passed.body().abortIfTooSlow(System.nanoTime() + TimeUnit.SECONDS.toNanos(3)); // a whole window of 2 s later

        assertNotNull(body.cancelled, "cut at the rate floor");
        assertTrue(body.cancelled.contains("blobMinRate"), body.cancelled);
        assertNotNull(client.failure, "the client's stream ended short");
        awaitInFlight(0, "nothing held for it any more");
    }

    // ---------------------------------------------------------------- helpers

    private Target target() {
        RepositoryName name = RepositoryName.parse("team/app");
        return new Target(upstream, name, name, null, "default");
    }

    private ProxyResponse get(Digest digest) throws Exception {
        return blobs.get(target(), digest, false, Optional.empty()).get(10, TimeUnit.SECONDS);
    }

    private void awaitInFlight(long expected, String what) throws Exception {
        await(() -> blobs.downloadsInFlight() == expected, what + " (" + blobs.downloadsInFlight() + " in flight)");
    }

    private static void await(Check condition, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.holds() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertTrue(condition.holds(), what);
    }

    /** A condition that may throw (a look at the disk). */
    private interface Check {
        boolean holds() throws Exception;
    }

    /** Caches {@code count} blobs of {@code size} bytes, oldest first. */
    private List<Digest> fill(int count, int size) throws IOException {
        List<Digest> digests = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] bytes = random(size, 100 + i);
            Digest digest = Digest.sha256Of(bytes);
            try (BlobWriter writer = store.newWriter(digest)) {
                writer.write(ByteBuffer.wrap(bytes));
                writer.commit();
            }
            rocks.putBlob(digest, size, 1_000 + i);
            digests.add(digest);
        }
        janitor.recount();
        return digests;
    }

    private void assertAllCached(List<Digest> digests) throws IOException {
        for (Digest digest : digests) {
            assertTrue(store.stat(digest).isPresent(), digest + " still cached");
            assertTrue(rocks.entry(digest).isPresent(), digest + " still indexed");
        }
    }

    private List<Path> tempFiles() throws IOException {
        if (!Files.isDirectory(paths.tmpDir())) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(paths.tmpDir())) {
            return files.toList();
        }
    }

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /** A body the test feeds chunk by chunk, recording why the proxy let go of it. */
    private static final class FedBody implements BodySource {
        final long declared;
        final CompletableFuture<BodySink> streaming = new CompletableFuture<>();
        volatile BodySink sink;
        volatile String cancelled;

        FedBody(long declared) {
            this.declared = declared;
        }

        @Override
        public void stream(BodySink to) {
            sink = to;
            streaming.complete(to);
        }

        @Override
        public void cancel(String why) {
            if (cancelled == null) {
                cancelled = why;
                streaming.thenAccept(to -> to.onError(new IOException("cancelled: " + why)));
            }
        }

        void send(byte[] bytes) {
            BodySink to = streaming.join();
            for (int at = 0; at < bytes.length; at += CHUNK) {
                to.onBytes(ByteBuffer.wrap(bytes, at, Math.min(CHUNK, bytes.length - at)), () -> { });
            }
            to.onEnd();
        }

        /** Sends chunks until the proxy cancels (waiting a moment for it after each); returns the bytes sent. */
        int sendUntilCancelled(byte[] bytes) throws InterruptedException {
            BodySink to = streaming.join();
            int at = 0;
            while (cancelled == null && at < bytes.length) {
                int n = Math.min(CHUNK, bytes.length - at);
                AtomicInteger done = new AtomicInteger();
                to.onBytes(ByteBuffer.wrap(bytes, at, n), done::incrementAndGet);
                at += n;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (done.get() == 0 && cancelled == null && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
            }
            return at;
        }
    }

    /** The upstream: every blob GET answered with what {@link #answer} makes, counted. */
    private static final class FakeUpstream extends TestUpstream {
        final AtomicInteger gets = new AtomicInteger();
        final List<FedBody> bodies = new CopyOnWriteArrayList<>();
        volatile Supplier<FedBody> answer;

        FakeUpstream() {
            super("blobMinRate: 64KiB", "blobRateWindow: 2s");
        }

        @Override
        public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
            gets.incrementAndGet();
            FedBody body = answer.get();
            bodies.add(body);
            return CompletableFuture.completedFuture(UpstreamResult.ok(new BlobBody(body.declared, body)));
        }

        FedBody awaitBody(int index) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (bodies.size() <= index && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            FedBody body = bodies.get(index);
            body.streaming.orTimeout(10, TimeUnit.SECONDS).join();
            return body;
        }
    }

    /** A client of a pass-through: what it received, and whether it ended short. */
    private static final class CollectingSink implements BodySink {
        private final java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
        volatile Throwable failure;
        volatile boolean ended;

        @Override
        public synchronized void onBytes(ByteBuffer bytes, Runnable consumed) {
            byte[] copy = new byte[bytes.remaining()];
            bytes.get(copy);
            received.write(copy, 0, copy.length);
            consumed.run();
        }

        @Override
        public void onEnd() {
            ended = true;
        }

        @Override
        public void onError(Throwable cause) {
            failure = cause;
        }

        synchronized byte[] bytes() {
            assertTrue(ended, "the body ended");
            return received.toByteArray();
        }
    }
}
