package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.BlobStore;
import dev.pullthrough.storage.blob.BlobWriter;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.BodySink;
import dev.pullthrough.upstream.BodySource;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How often a blob request looks at the disk (issue 28): once for a cached blob, where the repository
 * check and the answer asked separately before, and twice for a cold one (the second under the
 * single-flight's lock, which decides between the disk and a download). Counted with a counting store.
 */
class BlobDiskLookupsTest {
    @TempDir
    Path temp;

    private final ExecutorService pool = Executors.newFixedThreadPool(2);
    private final ServingUpstream upstream = new ServingUpstream();
    private RocksMetadataStore rocks;
    private CountingStore store;
    private BlobService blobs;

    @BeforeEach
    void setUp() throws Exception {
        BlobPaths paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        store = new CountingStore(new FileBlobStore(paths));
        CacheJanitor janitor = new CacheJanitor(rocks, store, 1L << 30, d -> false, e -> { }, Clock.systemUTC(), Runnable::run);
        blobs = new BlobService(store, rocks, janitor, new BlobLeases(), new Metrics(), pool, 4, Runnable::run,
                Clock.systemUTC(), false);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        pool.shutdown();
        assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        rocks.close();
    }

    // ---------------------------------------------------------------- lookups per request

    @Test
    void get_cachedLinkedBlob_oneLookOnDisk() throws Exception {
        byte[] bytes = "cached and linked".getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256Of(bytes);
        try (BlobWriter writer = store.newWriter(digest)) {
            writer.write(ByteBuffer.wrap(bytes));
            writer.commit();
        }
        rocks.link("fake", "team/app", digest);
        store.stats.set(0);

        ProxyResponse.BlobFile file = assertInstanceOf(ProxyResponse.BlobFile.class, get(digest).get(10, TimeUnit.SECONDS));

        assertArrayEquals(bytes, read(file.channel(), bytes.length));
        file.done().run();
        assertEquals(1, store.stats.get(), "one look at the disk for the check and the answer");
        assertEquals(0, upstream.gets.get());
    }

    @Test
    void get_coldBlob_twoLooksOnDiskAndOneUpstreamGet() throws Exception {
        byte[] bytes = "cold".getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256Of(bytes);
        upstream.body = bytes;

        ProxyResponse.BlobStream stream = assertInstanceOf(ProxyResponse.BlobStream.class, get(digest).get(10, TimeUnit.SECONDS));

        assertArrayEquals(bytes, read(stream.channel(), bytes.length));
        stream.release();
        assertEquals(2, store.stats.get(), "one before the check, one under the single-flight's lock");
        assertEquals(1, upstream.gets.get());
    }

    // ---------------------------------------------------------------- helpers

    private CompletableFuture<ProxyResponse> get(Digest digest) throws IOException {
        RepositoryName name = RepositoryName.parse("team/app");
        return blobs.get(new Target(upstream, name, name, null, "default"), digest, false, Optional.empty());
    }

    private static byte[] read(FileChannel channel, int size) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(size);
        while (bytes.hasRemaining() && channel.read(bytes, bytes.position()) >= 0) {
            // read all of it
        }
        return bytes.array();
    }

    // ---------------------------------------------------------------- the fakes

    /** Counts {@link #stat} calls of the file store it forwards to. */
    private static final class CountingStore implements BlobStore {
        final AtomicInteger stats = new AtomicInteger();
        private final BlobStore store;

        CountingStore(BlobStore store) {
            this.store = store;
        }

        @Override
        public Optional<StoredBlob> stat(Digest digest) throws IOException {
            stats.incrementAndGet();
            return store.stat(digest);
        }

        @Override
        public BlobWriter newWriter(Digest expected) throws IOException {
            return store.newWriter(expected);
        }

        @Override
        public boolean delete(Digest digest) throws IOException {
            return store.delete(digest);
        }

        @Override
        public boolean hasRoomFor(long bytes) throws IOException {
            return store.hasRoomFor(bytes);
        }

        @Override
        public void forEach(Consumer<StoredBlob> action) throws IOException {
            store.forEach(action);
        }
    }

    /** An upstream answering 200 with {@link #body} in one chunk; counts GETs. */
    private static final class ServingUpstream extends TestUpstream {
        final AtomicInteger gets = new AtomicInteger();
        volatile byte[] body;

        @Override
        public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
            gets.incrementAndGet();
            byte[] bytes = body;
            BodySource source = new BodySource() {
                @Override
                public void stream(BodySink to) {
                    to.onBytes(ByteBuffer.wrap(bytes), () -> { });
                    to.onEnd();
                }

                @Override
                public void cancel(String why) {
                    // a whole body is sent at once
                }
            };
            return CompletableFuture.completedFuture(UpstreamResult.ok(new BlobBody(bytes.length, source)));
        }
    }
}
