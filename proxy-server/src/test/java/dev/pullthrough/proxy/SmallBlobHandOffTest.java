package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.ForwardingMetadataStore;
import dev.pullthrough.storage.meta.MetadataStore;
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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The small-cold-blob path (issue 28): a body of at most {@link BlobDownload#WHOLE_BODY_LIMIT} bytes
 * is written, hashed, verified, answered and committed in one hand-off to the download threads, and
 * its link and index entry go to the metadata store in one write. Counted with a counting executor
 * and a counting metadata store; the bodies arrive when the test sends them, on the test's thread
 * (the transport's event loop). Wrong, short and overlong small bodies commit nothing.
 */
class SmallBlobHandOffTest {
    private static final int SMALL = 1024;

    @TempDir
    Path temp;

    private final ExecutorService pool = Executors.newFixedThreadPool(2);
    private final AtomicInteger handOffs = new AtomicInteger();
    private final Executor countedDownloads = task -> {
        handOffs.incrementAndGet();
        pool.execute(task);
    };
    private final FeedingUpstream upstream = new FeedingUpstream();
    private RocksMetadataStore rocks;
    private CountingMetadata counting;
    private BlobPaths paths;
    private FileBlobStore store;
    private BlobService blobs;

    @BeforeEach
    void setUp() throws Exception {
        paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        counting = new CountingMetadata(rocks);
        store = new FileBlobStore(paths);
        CachedMetadataStore metadata = new CachedMetadataStore(counting, 1 << 20, 1 << 20);
        CacheJanitor janitor = new CacheJanitor(metadata, store, 1L << 30, d -> false, e -> { }, Clock.systemUTC(), Runnable::run);
        blobs = new BlobService(store, metadata, janitor, new BlobLeases(), new Metrics(), countedDownloads, 4, Runnable::run,
                Clock.systemUTC(), false);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        pool.shutdown();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        rocks.close();
    }

    // ---------------------------------------------------------------- one hand-off, one write

    @Test
    void get_smallColdBlobs_oneHandOffAndOneMetadataWriteEach() throws Exception {
        int blobCount = 20;
        for (int i = 0; i < blobCount; i++) {
            byte[] bytes = random(SMALL, i);
            Digest digest = Digest.sha256Of(bytes);
            FedBody body = upstream.offer(digest, bytes.length);
            CompletableFuture<ProxyResponse> answer = get(digest);

            body.send(bytes);

            ProxyResponse.BlobStream stream = assertInstanceOf(ProxyResponse.BlobStream.class, answer.get(10, TimeUnit.SECONDS));
            awaitCommitted(digest);
            assertArrayEquals(bytes, read(stream));
            assertTrue(rocks.linked("fake", "team/app", digest), "linked to its repository");
            assertEquals(bytes.length, rocks.entry(digest).orElseThrow().size(), "indexed");
        }

        assertEquals(blobCount, handOffs.get(), "one hand-off to the download threads per small blob");
        assertEquals(blobCount, counting.writes.get(), "link and index entry in one write per small blob");
        assertEquals(blobCount, upstream.gets.get());
    }

    @Test
    void get_bodyOneByteOverTheLimit_answeredBeforeItsBytesArrive() throws Exception {
        byte[] bytes = random((int) BlobDownload.WHOLE_BODY_LIMIT + 1, 3);
        Digest digest = Digest.sha256Of(bytes);
        FedBody body = upstream.offer(digest, bytes.length);

        ProxyResponse.BlobStream stream = assertInstanceOf(ProxyResponse.BlobStream.class, get(digest).get(10, TimeUnit.SECONDS));
        assertEquals(0, stream.blob().readable(), "a growing blob: its client is answered before the bytes");
        body.send(bytes);

        awaitCommitted(digest);
        assertArrayEquals(bytes, read(stream));
        assertTrue(rocks.linked("fake", "team/app", digest));
    }

    @Test
    void get_clientJoinsWhileSmallBodyArrives_oneUpstreamGetForBoth() throws Exception {
        byte[] bytes = random(SMALL, 4);
        Digest digest = Digest.sha256Of(bytes);
        FedBody body = upstream.offer(digest, bytes.length);
        CompletableFuture<ProxyResponse> first = get(digest);
        CompletableFuture<ProxyResponse> second = get(digest);
        assertFalse(first.isDone(), "a small blob is answered once all of it is there");

        body.send(bytes);

        ProxyResponse.BlobStream one = assertInstanceOf(ProxyResponse.BlobStream.class, first.get(10, TimeUnit.SECONDS));
        ProxyResponse.BlobStream two = assertInstanceOf(ProxyResponse.BlobStream.class, second.get(10, TimeUnit.SECONDS));
        assertSame(one.blob(), two.blob(), "both follow the one download");
        assertEquals(bytes.length, one.blob().readable(), "answered once verified: every byte readable at once");
        assertArrayEquals(bytes, read(one));
        assertArrayEquals(bytes, read(two));
        assertEquals(1, upstream.gets.get());
    }

    // ---------------------------------------------------------------- wrong, short, overlong

    @Test
    void get_smallBodyWithWrongBytes_errorAnswer_nothingCommittedNorIndexed() throws Exception {
        byte[] bytes = random(SMALL, 5);
        Digest digest = Digest.sha256Of(bytes);
        FedBody body = upstream.offer(digest, bytes.length);
        CompletableFuture<ProxyResponse> answer = get(digest);
        byte[] wrong = bytes.clone();
        wrong[SMALL / 2] ^= 1;

        body.send(wrong);

        assertInstanceOf(ProxyResponse.Error.class, answer.get(10, TimeUnit.SECONDS), "no client gets wrong bytes");
        assertNothingKept(digest);
    }

    @Test
    void get_smallBodyEndsShort_errorAnswer_nothingCommitted() throws Exception {
        byte[] bytes = random(SMALL, 6);
        Digest digest = Digest.sha256Of(bytes);
        FedBody body = upstream.offer(digest, bytes.length);
        CompletableFuture<ProxyResponse> answer = get(digest);

        body.send(java.util.Arrays.copyOf(bytes, SMALL - 1));

        ProxyResponse.Error error = assertInstanceOf(ProxyResponse.Error.class, answer.get(10, TimeUnit.SECONDS));
        assertTrue(error.error().message().contains("ended after " + (SMALL - 1) + " of " + SMALL + " bytes"),
                error.error().message());
        assertNothingKept(digest);
    }

    @Test
    void get_smallBodyLongerThanDeclared_cancelled_nothingCommitted() throws Exception {
        byte[] bytes = random(SMALL, 7);
        Digest digest = Digest.sha256Of(bytes);
        FedBody body = upstream.offer(digest, bytes.length);
        CompletableFuture<ProxyResponse> answer = get(digest);

        body.send(java.util.Arrays.copyOf(bytes, SMALL + 1));

        assertInstanceOf(ProxyResponse.Error.class, answer.get(10, TimeUnit.SECONDS));
        assertNotNull(body.cancelled, "the transfer was let go");
        assertNothingKept(digest);
    }

    @Test
    void get_smallBodyThatCannotBeStreamed_errorAnswer_downloadEnds() throws Exception {
        byte[] bytes = random(SMALL, 8);
        Digest digest = Digest.sha256Of(bytes);
        upstream.offer(digest, bytes.length).refuseToStream = true;

        assertInstanceOf(ProxyResponse.Error.class, get(digest).get(10, TimeUnit.SECONDS));
        assertNothingKept(digest);
    }

    // ---------------------------------------------------------------- helpers

    private CompletableFuture<ProxyResponse> get(Digest digest) throws IOException {
        RepositoryName name = RepositoryName.parse("team/app");
        return blobs.get(new Target(upstream, name, name, null, "default"), digest, false, Optional.empty());
    }

    private void awaitCommitted(Digest digest) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (blobs.downloadsInFlight() > 0 || rocks.entry(digest).isEmpty()) {
            assertTrue(System.nanoTime() < deadline, "the download of " + digest + " ended committed");
            Thread.sleep(1);
        }
    }

    private void assertNothingKept(Digest digest) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (blobs.downloadsInFlight() > 0) {
            assertTrue(System.nanoTime() < deadline, "the failed download ended");
            Thread.sleep(1);
        }
        assertFalse(store.stat(digest).isPresent(), "nothing under the digest");
        assertTrue(rocks.entry(digest).isEmpty(), "nothing indexed");
        if (Files.isDirectory(paths.tmpDir())) {
            try (Stream<Path> files = Files.list(paths.tmpDir())) {
                assertEquals(List.of(), files.toList(), "no temp file left");
            }
        }
    }

    private static byte[] read(ProxyResponse.BlobStream stream) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate((int) stream.size());
        while (bytes.hasRemaining() && stream.channel().read(bytes, bytes.position()) >= 0) {
            // read all of it
        }
        stream.release();
        return bytes.array();
    }

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    // ---------------------------------------------------------------- the fakes

    /** An upstream answering 200 for offered digests with bodies the test sends; counts GETs. */
    private static final class FeedingUpstream extends TestUpstream {
        final AtomicInteger gets = new AtomicInteger();
        final Map<Digest, FedBody> offered = new ConcurrentHashMap<>();

        FedBody offer(Digest digest, long declared) {
            FedBody body = new FedBody(declared);
            offered.put(digest, body);
            return body;
        }

        @Override
        public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
            gets.incrementAndGet();
            FedBody body = offered.get(digest);
            return CompletableFuture.completedFuture(UpstreamResult.ok(new BlobBody(body.declared, body)));
        }
    }

    /** A body that declares a length and sends whatever the test gives it, as one chunk, then its end. */
    private static final class FedBody implements BodySource {
        final long declared;
        final CompletableFuture<BodySink> sink = new CompletableFuture<>();
        volatile String cancelled;
        volatile boolean refuseToStream;

        FedBody(long declared) {
            this.declared = declared;
        }

        void send(byte[] bytes) {
            BodySink to = sink.join();
            to.onBytes(ByteBuffer.wrap(bytes), () -> { });
            if (cancelled == null) {
                to.onEnd();
            }
        }

        @Override
        public void stream(BodySink to) {
            if (refuseToStream) {
                throw new IllegalStateException("the body of this response was already taken");
            }
            sink.complete(to);
        }

        @Override
        public void cancel(String why) {
            cancelled = why;
            sink.thenAccept(to -> to.onError(new IOException("cancelled: " + why)));
        }
    }

    /** Counts the writes that reach the store below the memory cache: links and index entries. */
    private static final class CountingMetadata extends ForwardingMetadataStore {
        final AtomicInteger writes = new AtomicInteger();

        CountingMetadata(MetadataStore store) {
            super(store);
        }

        @Override
        public void link(String upstream, String repository, Digest digest) {
            writes.incrementAndGet();
            store.link(upstream, repository, digest);
        }

        @Override
        public void putBlob(Digest digest, long size, long accessMillis) {
            writes.incrementAndGet();
            store.putBlob(digest, size, accessMillis);
        }

        @Override
        public void putLinkedBlob(String upstream, String repository, Digest digest, long size, long accessMillis) {
            writes.incrementAndGet();
            store.putLinkedBlob(upstream, repository, digest, size, accessMillis);
        }
    }
}
