package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.UpstreamConfig;
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
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, hole 10: while an upstream cannot be reached, the cache serves through it only what was
 * fetched through (or confirmed by) that same upstream. A blob cached from {@code reg.local} is never
 * served as {@code down.local/anyone/anything}; within {@code reg.local} availability still wins.
 */
class RepositoryChecksAcrossUpstreamsTest {
    private static final byte[] BLOB = new byte[16 * 1024];
    private static final Digest DIGEST;

    static {
        new Random(26).nextBytes(BLOB);
        DIGEST = Digest.sha256Of(BLOB);
    }

    @TempDir
    Path temp;

    private final NamedUpstream registry = new NamedUpstream("reg.local");
    private final NamedUpstream down = new NamedUpstream("down.local");
    private final ExecutorService downloads = Executors.newFixedThreadPool(2);
    private RocksMetadataStore rocks;
    private BlobService blobs;

    @BeforeEach
    void setUp() throws Exception {
        BlobPaths paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        FileBlobStore store = new FileBlobStore(paths);
        CachedMetadataStore metadata = new CachedMetadataStore(rocks, 1 << 20, 1 << 20);
        CacheJanitor janitor = new CacheJanitor(metadata, store, 1L << 30, d -> false, e -> { }, Clock.systemUTC(), Runnable::run);
        blobs = new BlobService(store, metadata, janitor, new BlobLeases(), new Metrics(), downloads, 4, Runnable::run,
                Clock.systemUTC(), false);
        down.down = true;
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        downloads.shutdown();
        assertTrue(downloads.awaitTermination(10, TimeUnit.SECONDS));
        rocks.close();
    }

    private static Target target(NamedUpstream upstream, String repository) {
        RepositoryName name = RepositoryName.parse(repository);
        return new Target(upstream, name, name, null, "prefix");
    }

    private ProxyResponse get(NamedUpstream upstream, String repository) throws Exception {
        return blobs.get(target(upstream, repository), DIGEST, false, Optional.empty()).get(10, TimeUnit.SECONDS);
    }

    private void cacheThroughRegistry() throws Exception {
        ProxyResponse.BlobStream stream = assertInstanceOf(ProxyResponse.BlobStream.class, get(registry, "redir/same"));
        registry.body.send();
        assertEquals(BLOB.length, blobs.ensureCached(target(registry, "redir/same"), DIGEST));
        stream.release();
    }

    private static byte[] read(ProxyResponse response) throws IOException {
        ProxyResponse.BlobFile file = assertInstanceOf(ProxyResponse.BlobFile.class, response);
        ByteBuffer bytes = ByteBuffer.allocate((int) file.blob().size());
        while (bytes.hasRemaining() && file.channel().read(bytes, bytes.position()) >= 0) {
            // read all of it
        }
        file.release();
        return bytes.array();
    }

    // ---------------------------------------------------------------- across upstreams

    @Test
    void get_cachedFromAnotherUpstream_thisOneUnreachable_unknownNotServed() throws Exception {
        cacheThroughRegistry();

        ProxyResponse.Error refused = assertInstanceOf(ProxyResponse.Error.class, get(down, "anyone/anything"));

        assertEquals(ErrorCode.BLOB_UNKNOWN, refused.error().code());
        assertTrue(refused.error().message().contains("never fetched through upstream down.local"), refused.error().message());
        assertTrue(refused.error().message().contains("connection refused"), "says why it could not ask: " + refused.error().message());
        assertEquals(1, down.heads.get(), "down.local was asked first");
        assertEquals(0, down.gets.get());
        assertArrayEquals(BLOB, read(get(registry, "redir/same")), "its own repository still gets it");
        assertEquals(1, registry.gets.get(), "from the cache");
    }

    @Test
    void get_cachedThroughTheSameUpstream_unreachable_availabilityOverTheCheck() throws Exception {
        cacheThroughRegistry();
        registry.down = true;

        assertArrayEquals(BLOB, read(get(registry, "redir/other")));
        assertEquals(1, registry.heads.get(), "tried, and the outage does not stop a pull it fetched itself");
    }

    @Test
    void get_notCachedAnywhere_unreachable_theUpstreamsOwnFailure() throws Exception {
        ProxyResponse.Error refused = assertInstanceOf(ProxyResponse.Error.class, get(down, "anyone/anything"));
        assertEquals(ErrorCode.UPSTREAM_UNAVAILABLE, refused.error().code(), "nothing cached: the outage, as before");
    }

    // ---------------------------------------------------------------- the store's answer

    @Test
    void linkedThrough_onlyTheUpstreamThatLinkedIt_anyOfItsRepositories() {
        Digest other = Digest.sha256Of(new byte[] {1});
        rocks.link("reg.local", "team/app", DIGEST);
        rocks.link("reg.local", "team", other);
        rocks.link("reg.local.evil", "x", other);

        assertTrue(rocks.linkedThrough("reg.local", DIGEST));
        assertTrue(rocks.linkedThrough("reg.local", other), "a repository that is a prefix of another");
        assertFalse(rocks.linkedThrough("down.local", DIGEST));
        assertFalse(rocks.linkedThrough("reg", DIGEST), "an upstream whose name is a prefix of another's");
        assertFalse(rocks.linkedThrough("reg.local.evil", DIGEST));
        rocks.unlink("reg.local", "team/app", DIGEST);
        assertFalse(rocks.linkedThrough("reg.local", DIGEST), "a purge takes it back");
    }

    // ---------------------------------------------------------------- the fake

    /** An upstream with a name of its own, holding the blob in every repository; counts GETs and HEADs; can be down. */
    private static final class NamedUpstream extends TestUpstream {
        private final UpstreamConfig config;
        final AtomicInteger gets = new AtomicInteger();
        final AtomicInteger heads = new AtomicInteger();
        final HeldBlobBody body = new HeldBlobBody(BLOB);
        volatile boolean down;

        NamedUpstream(String name) {
            this.config = ConfigLoader.fromYaml("upstreams:\n  - name: " + name + "\n    url: http://127.0.0.1:9\n", Map.of())
                    .defaultUpstream();
        }

        @Override
        public UpstreamConfig config() {
            return config;
        }

        @Override
        public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
            gets.incrementAndGet();
            return CompletableFuture.completedFuture(down ? UpstreamResult.refused(new Refusal.Unavailable("connection refused"))
                    : UpstreamResult.ok(body.body()));
        }

        @Override
        public CompletableFuture<UpstreamResult<Long>> headBlob(RepositoryName name, Digest digest) {
            heads.incrementAndGet();
            return CompletableFuture.completedFuture(down ? UpstreamResult.refused(new Refusal.Unavailable("connection refused"))
                    : UpstreamResult.ok((long) BLOB.length));
        }
    }
}
