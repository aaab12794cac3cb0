package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.HeldBlobBody;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The blob decisions in-process, with a counting fake upstream whose bodies arrive when the test
 * sends them: one download shared by every client that asks meanwhile, the repository check for a
 * blob cached for another repository (HEAD, no download; remembered once it passed), availability
 * over the check when the upstream is down, and nothing committed from wrong bytes.
 */
class BlobServiceTest {
    private static final byte[] BLOB = new byte[64 * 1024];
    private static final Digest DIGEST;

    static {
        new Random(7).nextBytes(BLOB);
        DIGEST = Digest.sha256Of(BLOB);
    }

    @TempDir
    Path temp;

    private final FakeUpstream upstream = new FakeUpstream();
    private final ExecutorService downloads = Executors.newFixedThreadPool(2);
    private RocksMetadataStore rocks;
    private FileBlobStore store;
    private BlobService blobs;

    @BeforeEach
    void setUp() throws Exception {
        BlobPaths paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        store = new FileBlobStore(paths);
        CachedMetadataStore metadata = new CachedMetadataStore(rocks, 1 << 20, 1 << 20);
        CacheJanitor janitor = new CacheJanitor(metadata, store, 1L << 30, d -> false, e -> { }, Clock.systemUTC(), Runnable::run);
        blobs = new BlobService(store, metadata, janitor, new BlobLeases(), new Metrics(), downloads, 4, Runnable::run,
                Clock.systemUTC(), false);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        downloads.shutdown();
        assertTrue(downloads.awaitTermination(10, TimeUnit.SECONDS));
        rocks.close();
    }

    private Target target(String repository) {
        RepositoryName name = RepositoryName.parse(repository);
        return new Target(upstream, name, name, null, "default");
    }

    private ProxyResponse get(String repository) throws Exception {
        return blobs.get(target(repository), DIGEST, false, Optional.empty()).get(10, TimeUnit.SECONDS);
    }

    /** Caches the blob through {@code repository}: its download, its bytes sent, its commit. */
    private void cacheThrough(String repository) throws Exception {
        upstream.holding.add(repository);
        ProxyResponse.BlobStream stream = assertInstanceOf(ProxyResponse.BlobStream.class, get(repository));
        upstream.bodies.get(upstream.bodies.size() - 1).send();
        assertEquals(BLOB.length, blobs.ensureCached(target(repository), DIGEST));
        stream.release();
    }

    /** Waits for the download to end; whether it failed. */
    private static boolean failed(GrowingBlob blob) throws InterruptedException {
        CountDownLatch ended = new CountDownLatch(1);
        Runnable check = () -> {
            if (blob.failure() != null || blob.readable() == BLOB.length) {
                ended.countDown();
            }
        };
        blob.addListener(check);
        check.run();
        assertTrue(ended.await(10, TimeUnit.SECONDS), "the download ended");
        return blob.failure() != null;
    }

    private static byte[] read(ProxyResponse.BlobFile file) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate((int) file.blob().size());
        while (bytes.hasRemaining() && file.channel().read(bytes, bytes.position()) >= 0) {
            // read all of it
        }
        file.release();
        return bytes.array();
    }

    // ---------------------------------------------------------------- one download for everyone

    @Test
    void get_clientsWhileDownloading_joinOneUpstreamGet_thenDiskServesIt() throws Exception {
        upstream.holding.add("team/app");
        ProxyResponse.BlobStream first = assertInstanceOf(ProxyResponse.BlobStream.class, get("team/app"));
        ProxyResponse.BlobStream second = assertInstanceOf(ProxyResponse.BlobStream.class, get("team/app"));
        assertSame(first.blob(), second.blob(), "the second client follows the same download");
        assertEquals(1, upstream.gets.get());
        assertEquals(0, first.blob().readable(), "nothing sent yet");

        upstream.bodies.get(0).send();
        assertEquals(BLOB.length, blobs.ensureCached(target("team/app"), DIGEST));
        assertEquals(BLOB.length, first.blob().readable(), "verified: every byte readable");
        first.release();
        second.release();

        ProxyResponse.BlobFile third = assertInstanceOf(ProxyResponse.BlobFile.class, get("team/app"));
        assertEquals(ProxyResponse.CacheResult.HIT, third.cacheResult());
        assertArrayEquals(BLOB, read(third));
        assertEquals(1, upstream.gets.get(), "one upstream GET for all three");
        assertEquals(0, upstream.heads.get(), "its own repository needs no check");
    }

    // ---------------------------------------------------------------- repository links

    @Test
    void get_cachedForAnotherRepository_upstreamSaysNotThere_unknownWithoutDownload() throws Exception {
        cacheThrough("team/app");

        ProxyResponse.Error refused = assertInstanceOf(ProxyResponse.Error.class, get("private/other"));

        assertEquals(ErrorCode.BLOB_UNKNOWN, refused.error().code());
        assertEquals(1, upstream.heads.get(), "asked with a HEAD");
        assertEquals(1, upstream.gets.get(), "never downloaded again");
    }

    @Test
    void get_cachedForAnotherRepository_upstreamSaysThere_servedAndRemembered() throws Exception {
        cacheThrough("team/app");
        upstream.holding.add("team/sibling");

        assertArrayEquals(BLOB, read(assertInstanceOf(ProxyResponse.BlobFile.class, get("team/sibling"))));
        assertArrayEquals(BLOB, read(assertInstanceOf(ProxyResponse.BlobFile.class, get("team/sibling"))));

        assertEquals(1, upstream.heads.get(), "linked after the first check");
        assertEquals(1, upstream.gets.get());
    }

    @Test
    void get_cachedForAnotherRepository_upstreamDown_servedFromCache() throws Exception {
        cacheThrough("team/app");
        upstream.down = true;

        assertArrayEquals(BLOB, read(assertInstanceOf(ProxyResponse.BlobFile.class, get("team/unreachable"))));
        assertEquals(1, upstream.heads.get(), "tried, and the outage does not stop a cached pull");
    }

    // ---------------------------------------------------------------- wrong bytes

    @Test
    void get_upstreamSendsWrongBytes_nothingCommitted_nextGetDownloadsAgain() throws Exception {
        upstream.holding.add("team/app");
        upstream.corrupt = true;
        ProxyResponse.BlobStream stream = assertInstanceOf(ProxyResponse.BlobStream.class, get("team/app"));
        upstream.bodies.get(0).send();

        assertTrue(failed(stream.blob()), "the digest did not match");
        assertTrue(stream.blob().readable() < BLOB.length, "the last byte is never readable");
        assertFalse(store.stat(DIGEST).isPresent(), "nothing under the digest");
        stream.release();
        // A client that asks after the download ended starts afresh (one that asks in the moment between
        // the failure and the end does too: get_askedWhileAFailedDownloadEnds_aNewDownloadServesIt).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (blobs.downloadsInFlight() > 0) {
            assertTrue(System.nanoTime() < deadline, "the failed download ended");
            Thread.sleep(1);
        }

        upstream.corrupt = false;
        assertInstanceOf(ProxyResponse.BlobStream.class, get("team/app"));
        assertEquals(2, upstream.gets.get(), "a fresh download");
        upstream.bodies.get(1).send();
        assertEquals(BLOB.length, blobs.ensureCached(target("team/app"), DIGEST));
    }

    @Test
    void get_askedWhileAFailedDownloadEnds_aNewDownloadServesIt() throws Exception {
        upstream.holding.add("team/app");
        upstream.corrupt = true;
        List<BlobDownload> started = new CopyOnWriteArrayList<>();
        blobs.observeDownloads(started::add);
        ProxyResponse.BlobStream first = assertInstanceOf(ProxyResponse.BlobStream.class, get("team/app"));
        CompletableFuture<ProxyResponse> askedMeanwhile = new CompletableFuture<>();
        // Told of the failure before the download's end takes it out of flight: the moment in which a
        // client could still join it (a replica's download from a peer that was just killed).
        started.get(0).done().whenComplete((blob, failure) -> {
            upstream.corrupt = false;
            try {
                assertEquals(1, blobs.downloadsInFlight(), "not ended yet");
                blobs.get(target("team/app"), DIGEST, false, Optional.empty()).whenComplete((answer, e) -> {
                    if (e == null) {
                        askedMeanwhile.complete(answer);
                    } else {
                        askedMeanwhile.completeExceptionally(e);
                    }
                });
            } catch (Throwable e) {
                askedMeanwhile.completeExceptionally(e);
            }
        });
        upstream.bodies.get(0).send();

        ProxyResponse.BlobStream second = assertInstanceOf(ProxyResponse.BlobStream.class, askedMeanwhile.get(10, TimeUnit.SECONDS));
        assertNotSame(first.blob(), second.blob(), "a new download, not the failed one");
        assertNull(second.blob().failure());
        assertEquals(2, upstream.gets.get());
        upstream.bodies.get(1).send();
        assertFalse(failed(second.blob()));
        assertEquals(BLOB.length, CompletableFuture.supplyAsync(() -> {
            try {
                return blobs.ensureCached(target("team/app"), DIGEST);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).get(10, TimeUnit.SECONDS), "committed: the failed download's end did not take the new one out of flight");
        assertEquals(2, upstream.gets.get());
        first.release();
        second.release();
    }

    // ---------------------------------------------------------------- the fake

    /** An upstream holding the blob in the repositories of {@link #holding}; counts GETs and HEADs; can be down. */
    private static final class FakeUpstream extends TestUpstream {
        final AtomicInteger gets = new AtomicInteger();
        final AtomicInteger heads = new AtomicInteger();
        final Set<String> holding = ConcurrentHashMap.newKeySet();
        final List<HeldBlobBody> bodies = new CopyOnWriteArrayList<>();
        volatile boolean down;
        volatile boolean corrupt;

        @Override
        public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
            gets.incrementAndGet();
            if (down) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.Unavailable("connection refused")));
            }
            if (!holding.contains(name.value())) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.NotFound()));
            }
            byte[] bytes = BLOB.clone();
            if (corrupt) {
                bytes[bytes.length / 2] ^= 1;
            }
            HeldBlobBody body = new HeldBlobBody(bytes);
            bodies.add(body);
            return CompletableFuture.completedFuture(UpstreamResult.ok(body.body()));
        }

        @Override
        public CompletableFuture<UpstreamResult<Long>> headBlob(RepositoryName name, Digest digest) {
            heads.incrementAndGet();
            if (down) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.Unavailable("connection refused")));
            }
            return CompletableFuture.completedFuture(holding.contains(name.value())
                    ? UpstreamResult.ok((long) BLOB.length) : UpstreamResult.refused(new Refusal.NotFound()));
        }



    }
}
