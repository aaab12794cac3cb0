package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.CommitDurability;
import dev.pullthrough.storage.blob.DirectWrites;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.BodySink;
import dev.pullthrough.upstream.BodySource;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Arrays;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A big cold blob's clients are sent what arrived, not only what the file holds (issue 28): the
 * file is written past the page cache a whole stage at a time, so it lags the bytes received; a
 * client copies those from the chunks the download still holds. The last byte still waits for the
 * digest, and every chunk goes back to the transport exactly once.
 */
class ColdBytesFromMemoryTest {
    private static final int CHUNK = 300 * 1024;

    @TempDir
    Path temp;

    private final ExecutorService pool = Executors.newFixedThreadPool(2);
    private final AtomicInteger givenBack = new AtomicInteger();
    private RocksMetadataStore rocks;
    private BlobService blobs;
    private final OneBodyUpstream upstream = new OneBodyUpstream();

    @BeforeEach
    void setUp() throws Exception {
        BlobPaths paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        FileBlobStore store = new FileBlobStore(paths, CommitDurability.EACH_COMMIT, true);
        assumeTrue(store.writesDirect(), "this file system takes no direct writes");
        CachedMetadataStore metadata = new CachedMetadataStore(rocks, 1 << 20, 1 << 20);
        CacheJanitor janitor = new CacheJanitor(metadata, store, 1L << 32, d -> false, e -> { }, Clock.systemUTC(), Runnable::run);
        blobs = new BlobService(store, metadata, janitor, new BlobLeases(), new Metrics(), pool, 4, Runnable::run,
                Clock.systemUTC(), false);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        pool.shutdown();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        rocks.close();
    }

    @Test
    void bigColdBlob_clientCopiesWhatTheFileDoesNotHoldYet_lastByteOnlyOnceVerified() throws Exception {
        Cold cold = startCold(28);
        byte[] bytes = cold.bytes();
        int size = bytes.length;
        Digest digest = cold.digest();
        ProxyResponse.BlobStream stream = cold.stream();
        GrowingBlob blob = stream.blob();
        BodySink sink = cold.sink();

        int chunks = 0;
        int last = (size - 1) / CHUNK * CHUNK;
        for (int at = 0; at < last; at += CHUNK) {
            sink.onBytes(ByteBuffer.wrap(bytes, at, CHUNK).slice(), givenBack::incrementAndGet);
            chunks++;
        }
        // All but the last chunk arrived: the file holds whole stages only.
        await(() -> blob.readable() == (long) (last / (1 << 20)) * (1 << 20), "the file holds the whole stages");
        assertEquals(last, blob.available(), "every byte received is the client's to send");
        assertTrue(blob.readable() < blob.available(), "more than the file holds");
        int tail = last - (int) blob.readable();
        ByteBuffer fromMemory = ByteBuffer.allocate(tail);
        assertEquals(tail, blob.copyHeld(blob.readable(), fromMemory), "the bytes past the file, from memory");
        assertArrayEquals(Arrays.copyOfRange(bytes, (int) blob.readable(), last), fromMemory.array());
        assertTrue(givenBack.get() < chunks, "chunks past the file are still held");

        sink.onBytes(ByteBuffer.wrap(bytes, last, size - last).slice(), givenBack::incrementAndGet);
        chunks++;
        await(() -> blob.readable() == size - 1, "the last bytes go into the file at once; the last one waits for the digest");
        assertEquals(size - 1, blob.available());

        sink.onEnd();

        await(() -> blobs.downloadsInFlight() == 0, "the download committed");
        assertEquals(size, blob.available());
        assertEquals(size, blob.readable());
        assertEquals(chunks, givenBack.get(), "each chunk given back to the transport once");
        ByteBuffer whole = ByteBuffer.allocate(size);
        while (whole.hasRemaining() && stream.channel().read(whole, whole.position()) >= 0) {
            // the file, whole
        }
        stream.release();
        assertArrayEquals(bytes, whole.array());
        assertArrayEquals(bytes, Files.readAllBytes(new BlobPaths(temp).blob(digest)));
    }

    @Test
    void aSecondReaderJoins_theRestOfTheFileGoesThroughThePageCache_whatWasStagedFirst() throws Exception {
        Cold cold = startCold(29);
        byte[] bytes = cold.bytes();
        int size = bytes.length;
        ProxyResponse.BlobStream stream = cold.stream();
        GrowingBlob blob = stream.blob();
        BodySink sink = cold.sink();
        blob.addListener(() -> { });

        int half = 17 * CHUNK; // 5,222,400 bytes: not on a stage edge
        for (int at = 0; at < half; at += CHUNK) {
            sink.onBytes(ByteBuffer.wrap(bytes, at, CHUNK).slice(), givenBack::incrementAndGet);
        }
        await(() -> blob.readable() == 4L << 20, "one reader: the file holds whole stages only");
        blob.addListener(() -> { });
        await(() -> blob.readable() == half, "a second reader: the staged bytes are in the file at once");
        for (int at = half; at < size; at += CHUNK) {
            int length = Math.min(CHUNK, size - at);
            sink.onBytes(ByteBuffer.wrap(bytes, at, length).slice(), givenBack::incrementAndGet);
            int received = at + length;
            await(() -> blob.readable() == Math.min(received, size - 1), "written through the page cache: in the file as it arrives");
        }
        sink.onEnd();
        await(() -> blobs.downloadsInFlight() == 0, "the download committed");
        stream.release();
        assertArrayEquals(bytes, Files.readAllBytes(new BlobPaths(temp).blob(cold.digest())));
    }

    @Test
    void aFileFollower_isToldOfTheFileGrowing_neverOfArrivalsOnTheTransportsThread() throws Exception {
        Cold cold = startCold(30);
        byte[] bytes = cold.bytes();
        int size = bytes.length;
        ProxyResponse.BlobStream stream = cold.stream();
        BlobDownload download = (BlobDownload) stream.blob();
        BodySink sink = cold.sink();
        Thread transport = Thread.currentThread(); // this test sends the chunks, as the transport's event loop would
        AtomicInteger readerNotices = new AtomicInteger();
        AtomicInteger followerNotices = new AtomicInteger();
        AtomicInteger followerNoticesOnTheTransport = new AtomicInteger();
        download.addListener(readerNotices::incrementAndGet);
        download.addFileListener(() -> {
            followerNotices.incrementAndGet();
            if (Thread.currentThread() == transport) {
                followerNoticesOnTheTransport.incrementAndGet();
            }
        });

        int chunks = 0;
        for (int at = 0; at < size; at += CHUNK) {
            sink.onBytes(ByteBuffer.wrap(bytes, at, Math.min(CHUNK, size - at)).slice(), givenBack::incrementAndGet);
            chunks++;
        }
        assertTrue(readerNotices.get() >= chunks, "a reader is told of each arrival: " + readerNotices.get() + " for " + chunks);
        sink.onEnd();
        await(() -> blobs.downloadsInFlight() == 0, "the download committed");
        assertTrue(followerNotices.get() > 0, "the follower was told the file grew");
        assertEquals(0, followerNoticesOnTheTransport.get(), "never on the transport's thread, for an arrival");
        stream.release();
    }

    /** Sends ten chunks (3,072,000 bytes) and waits until the file holds the two whole stages they fill. */
    private void tenChunksTwoStagesInTheFile(Cold cold) throws Exception {
        sendChunks(cold, 10);
        BlobDownload download = (BlobDownload) cold.stream().blob();
        await(() -> download.readable() == 2L << 20, "the file holds two stages");
    }

    @Test
    void aLoneReader_eachChunkWaitsUntilItPassed_untilItStalls() throws Exception {
        Cold cold = startCold(31);
        BlobDownload download = (BlobDownload) cold.stream().blob();
        download.addListener(() -> { });
        assertTrue(download.lendsHeld(), "a lone reader is waited for, and borrows the held bytes");
        tenChunksTwoStagesInTheFile(cold);

        download.readerAt(3 * CHUNK);
        await(() -> givenBack.get() == 3, "the three chunks the reader passed go back");
        long now = System.nanoTime();
        download.abortIfTooSlow(now);
        assertTrue(download.lendsHeld(), "the first check only notes where the reader is");
        download.abortIfTooSlow(now + TimeUnit.SECONDS.toNanos(1));
        assertFalse(download.lendsHeld(), "no progress in a second with MiBs waiting for it: let fall behind to the file");
        await(() -> givenBack.get() == 6, "what only the reader held goes back: each chunk the file's two stages hold");

        finish(cold, 10);
    }

    @Test
    void aSecondReaderJoins_theFirstIsNoLongerWaitedFor() throws Exception {
        Cold cold = startCold(32);
        BlobDownload download = (BlobDownload) cold.stream().blob();
        download.addListener(() -> { });
        tenChunksTwoStagesInTheFile(cold);
        assertEquals(0, givenBack.get(), "held for the lone reader, which passed none");

        download.addListener(() -> { });
        assertFalse(download.lendsHeld(), "a crowd's readers copy");
        await(() -> givenBack.get() == 10, "no reader is waited for: every chunk goes back once hashed and in the file");

        finish(cold, 10);
    }

    @Test
    void theLoneReaderLeaves_itsChunksGoBackAtOnce() throws Exception {
        Cold cold = startCold(33);
        BlobDownload download = (BlobDownload) cold.stream().blob();
        Runnable reader = () -> { };
        download.addListener(reader);
        tenChunksTwoStagesInTheFile(cold);

        download.removeListener(reader); // its client hung up
        assertFalse(download.lendsHeld());
        await(() -> givenBack.get() == 6, "each chunk the file's two stages hold goes back, with no reader to wait for");

        finish(cold, 10);
    }

    @Test
    void aSourceThatEndsOnlyOnceItsLastChunkWentBack_theLoneReaderAtTheLastByteWaitsForNobody() throws Exception {
        Cold cold = startCold(34);
        byte[] bytes = cold.bytes();
        int size = bytes.length;
        BlobDownload download = (BlobDownload) cold.stream().blob();
        download.addListener(() -> { });
        java.util.concurrent.CountDownLatch lastWentBack = new java.util.concurrent.CountDownLatch(1);
        for (int at = 0; at < size; at += CHUNK) {
            int length = Math.min(CHUNK, size - at);
            Runnable consumed = at + length < size ? givenBack::incrementAndGet : lastWentBack::countDown;
            cold.sink().onBytes(ByteBuffer.wrap(bytes, at, length).slice(), consumed);
        }
        download.readerAt(size - 1); // everything but the last byte sent: the client waits for the digest

        // As the bucket's source does: the end only once the last chunk went back (the hash, the file and the reader let it go).
        assertTrue(lastWentBack.await(10, TimeUnit.SECONDS), "the last chunk went back before the body ended");
        cold.sink().onEnd();
        await(() -> blobs.downloadsInFlight() == 0, "the download committed");
        assertEquals(size, download.available());
        cold.stream().release();
        assertArrayEquals(bytes, Files.readAllBytes(new BlobPaths(temp).blob(cold.digest())));
    }

    private void sendChunks(Cold cold, int chunks) {
        for (int i = 0; i < chunks; i++) {
            cold.sink().onBytes(ByteBuffer.wrap(cold.bytes(), i * CHUNK, CHUNK).slice(), givenBack::incrementAndGet);
        }
    }

    /** Sends the rest of the body from chunk {@code from} on, and waits for the commit. */
    private void finish(Cold cold, int from) throws Exception {
        byte[] bytes = cold.bytes();
        ((BlobDownload) cold.stream().blob()).readerAt(bytes.length);
        for (int at = from * CHUNK; at < bytes.length; at += CHUNK) {
            cold.sink().onBytes(ByteBuffer.wrap(bytes, at, Math.min(CHUNK, bytes.length - at)).slice(), givenBack::incrementAndGet);
        }
        cold.sink().onEnd();
        await(() -> blobs.downloadsInFlight() == 0, "the download committed");
        cold.stream().release();
        assertArrayEquals(bytes, Files.readAllBytes(new BlobPaths(temp).blob(cold.digest())));
    }

    /** A cold download of 9.5 MiB of random bytes (not a whole number of stages), its client's stream and the body's sink. */
    private record Cold(byte[] bytes, Digest digest, ProxyResponse.BlobStream stream, BodySink sink) {
    }

    private Cold startCold(long seed) throws Exception {
        byte[] bytes = new byte[(int) DirectWrites.FROM_BYTES + (3 << 20) / 2];
        new Random(seed).nextBytes(bytes);
        Digest digest = Digest.sha256Of(bytes);
        upstream.size = bytes.length;
        RepositoryName name = RepositoryName.parse("team/model");
        CompletableFuture<ProxyResponse> answer = blobs.get(new Target(upstream, name, name, null, "default"), digest, false,
                Optional.empty());
        ProxyResponse.BlobStream stream = assertInstanceOf(ProxyResponse.BlobStream.class, answer.get(10, TimeUnit.SECONDS));
        return new Cold(bytes, digest, stream, upstream.sink.get(10, TimeUnit.SECONDS));
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(1);
        }
    }

    /** An upstream answering 200 with one body whose chunks the test sends itself. */
    private static final class OneBodyUpstream extends TestUpstream implements BodySource {
        volatile long size;
        final CompletableFuture<BodySink> sink = new CompletableFuture<>();

        @Override
        public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
            return CompletableFuture.completedFuture(UpstreamResult.ok(new BlobBody(size, this)));
        }

        @Override
        public void stream(BodySink to) {
            sink.complete(to);
        }

        @Override
        public void cancel(String why) {
            sink.thenAccept(to -> to.onError(new java.io.IOException("cancelled: " + why)));
        }
    }
}
