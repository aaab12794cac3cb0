package dev.pullthrough.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.pullthrough.e2e.RedisServer;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.testing.Loopback;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.BodySink;
import dev.pullthrough.upstream.BodySource;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.UpstreamResult;
import dev.pullthrough.upstream.http.ClientLoops;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
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
 * Each decision of a replica in a cluster, in-process: a counting fake upstream, a fake peer (a small
 * HTTP server), the real redis-server for the leases, short lease times.
 */
class ClusterUpstreamTest {
    private static final byte[] BLOB = "the bytes of a layer".getBytes();
    private static final Digest DIGEST = Digest.sha256Of(BLOB);
    private static final RepositoryName NAME = RepositoryName.parse("team/app");
    private static final String KEY = ClusterUpstream.leaseKey(DIGEST);
    /**
     * Short enough that a test sees a lease expire, long enough (15 renewals) that a renewal delayed by a
     * busy machine still lands before it would (issue 29).
     */
    private static final ClusterUpstream.Timing QUICK = new ClusterUpstream.Timing(Duration.ofMillis(1500),
            Duration.ofMillis(100), Duration.ofMillis(50));
    /** A lease that outlives every test: when it is gone, only the explicit release can have removed it. */
    private static final ClusterUpstream.Timing HELD = new ClusterUpstream.Timing(Duration.ofMinutes(10),
            Duration.ofMinutes(3), Duration.ofMillis(50));

    @TempDir
    Path temp;
    private RedisServer redis;
    private RedisLink link;
    private RedisLeases leases;
    private ClientLoops loops;
    private PeerClient peers;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final CountingUpstream upstream = new CountingUpstream();
    private final Metrics metrics = new Metrics();
    private HttpServer peer;
    private volatile int peerStatus = 200;
    private final AtomicInteger peerRequests = new AtomicInteger();
    private ClusterUpstream replica;

    @BeforeEach
    void setUp() throws Exception {
        redis = RedisServer.start(temp.resolve("redis"));
        link = RedisLink.open(redis.uri(), Optional.empty(), up -> { });
        leases = new RedisLeases(link);
        loops = new ClientLoops();
        peers = new PeerClient(loops, "the-secret-of-this-test");
        peer = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        peer.createContext("/", exchange -> {
            peerRequests.incrementAndGet();
            boolean authorized = ("Bearer the-secret-of-this-test").equals(exchange.getRequestHeaders().getFirst("Authorization"))
                    && exchange.getRequestURI().getPath().equals("/cluster/blobs/fake/team/app/" + DIGEST);
            int status = authorized ? peerStatus : 401;
            exchange.sendResponseHeaders(status, status == 200 ? BLOB.length : -1);
            try (OutputStream out = exchange.getResponseBody()) {
                if (status == 200) {
                    out.write(BLOB);
                }
            }
        });
        peer.start();
        replica = replicaWith(QUICK);
    }

    private ClusterUpstream replicaWith(ClusterUpstream.Timing timing) {
        return new ClusterUpstream(upstream, leases, peers, "http://127.0.0.1:1 this-replica", timing, timer, metrics);
    }

    @AfterEach
    void tearDown() throws Exception {
        peer.stop(0);
        timer.shutdownNow();
        peers.close();
        loops.close();
        link.close();
        redis.close();
    }

    private String peerHolder() {
        return "http://127.0.0.1:" + peer.getAddress().getPort() + " other-replica";
    }

    private static byte[] read(UpstreamResult<BlobBody> result) throws IOException {
        assertInstanceOf(UpstreamResult.Ok.class, result);
        try (InputStream in = ((UpstreamResult.Ok<BlobBody>) result).value().asInputStream()) {
            return in.readAllBytes();
        }
    }

    @Test
    void leaseFree_thisReplicaFetches_holdsTheLeaseWhileItRuns_andLetsItExpireAfterSuccess() throws Exception {
        upstream.release = new CompletableFuture<>();
        long taken = System.nanoTime();
        UpstreamResult<BlobBody> result = replica.blob(NAME, DIGEST).get(5, TimeUnit.SECONDS);
        CompletableFuture<byte[]> reading = CompletableFuture.supplyAsync(() -> {
            try {
                return read(result);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        // While the body is held back, the lease outlives its own length twice over: it is renewed.
        while (System.nanoTime() - taken < QUICK.lease().multipliedBy(2).toNanos()) {
            assertEquals(Optional.of("http://127.0.0.1:1 this-replica"), leases.holder(KEY).join(), "renewed while downloading");
            Thread.sleep(20);
        }
        upstream.release.complete(null);
        assertArrayEquals(BLOB, reading.get(5, TimeUnit.SECONDS));
        assertEquals(1, upstream.blobGets.get());
        assertTrue(leases.holder(KEY).join().isPresent(), "not released after success: others read the committed blob here");
        waitUntil(() -> leases.holder(KEY).join().isEmpty(), "then it expires, no longer renewed");
        assertEquals(1.0, metrics.sum("pullthrough_cluster_blob_fetches", "source", "lease"));
    }

    @Test
    void leaseHeldByAnotherReplica_theBytesComeFromIt_notFromTheUpstream() throws Exception {
        assertTrue(leases.take(KEY, peerHolder(), Duration.ofSeconds(30)).join());
        UpstreamResult<BlobBody> result = replica.blob(NAME, DIGEST).get(5, TimeUnit.SECONDS);
        assertTrue(((UpstreamResult.Ok<BlobBody>) result).value().shared(), "the holder writes it to the bucket, not this replica");
        assertArrayEquals(BLOB, read(result));
        assertEquals(0, upstream.blobGets.get());
        assertEquals(1, peerRequests.get());
        assertEquals(1.0, metrics.sum("pullthrough_cluster_blob_fetches", "source", "peer"));
    }

    @Test
    void holderHasNothingForThisRepository_theUpstreamDecides() throws Exception {
        peerStatus = 404;
        assertTrue(leases.take(KEY, peerHolder(), Duration.ofSeconds(30)).join());
        assertArrayEquals(BLOB, read(replica.blob(NAME, DIGEST).get(5, TimeUnit.SECONDS)));
        assertEquals(1, upstream.blobGets.get());
        assertEquals(1.0, metrics.sum("pullthrough_cluster_blob_fetches", "source", "alone"));
    }

    @Test
    void holderUnreachable_itsLeaseExpires_thisReplicaTakesItOverAndFetches() throws Exception {
        int closed = Loopback.freePort();
        // The dead holder's lease is short; this replica waits up to three of its own leases for it to go.
        assertTrue(leases.take(KEY, "http://127.0.0.1:" + closed + " dead-replica", Duration.ofMillis(300)).join());
        assertArrayEquals(BLOB, read(replica.blob(NAME, DIGEST).get(10, TimeUnit.SECONDS)));
        assertEquals(1, upstream.blobGets.get(), "fetched once, after taking the lease over");
        assertEquals(Optional.of("http://127.0.0.1:1 this-replica"), leases.holder(KEY).join());
    }

    @Test
    void leaseHeldByAnEarlierProcessOfThisReplica_takenOverAtOnce_neverAskedOfItself() throws Exception {
        // Restarted after kill -9 at the same advertised URL: the old process's lease outlives it.
        String here = "http://127.0.0.1:" + peer.getAddress().getPort();
        assertTrue(leases.take(KEY, here + " killed-process", Duration.ofMinutes(10)).join());
        ClusterUpstream restarted = new ClusterUpstream(upstream, leases, peers, here + " this-process", HELD, timer, metrics);

        assertArrayEquals(BLOB, read(restarted.blob(NAME, DIGEST).get(5, TimeUnit.SECONDS)));
        assertEquals(0, peerRequests.get(), "its own peer endpoint was not asked");
        assertEquals(1, upstream.blobGets.get(), "fetched from the upstream");
        assertEquals(Optional.of(here + " this-process"), leases.holder(KEY).join(), "the ten-minute lease taken over");
    }

    @Test
    void downloadFails_theLeaseIsReleasedAtOnce() throws Exception {
        upstream.failBody = true;
        UpstreamResult<BlobBody> result = replicaWith(HELD).blob(NAME, DIGEST).get(5, TimeUnit.SECONDS);
        assertTrue(leases.holder(KEY).join().isPresent(), "held while the download runs");
        try (InputStream in = ((UpstreamResult.Ok<BlobBody>) result).value().asInputStream()) {
            assertTrue(org.junit.jupiter.api.Assertions.assertThrows(IOException.class, in::readAllBytes).getMessage()
                    .contains("reset"));
        }
        waitUntil(() -> leases.holder(KEY).join().isEmpty(), "released: a ten-minute lease cannot have expired");
    }

    @Test
    void upstreamRefuses_theLeaseIsReleased_theRefusalPassedOn() throws Exception {
        upstream.refuse = true;
        UpstreamResult<BlobBody> result = replicaWith(HELD).blob(NAME, DIGEST).get(5, TimeUnit.SECONDS);
        assertInstanceOf(UpstreamResult.Refused.class, result);
        assertEquals(1, upstream.blobGets.get(), "it took the lease and asked the upstream");
        waitUntil(() -> leases.holder(KEY).join().isEmpty(), "released: a ten-minute lease cannot have expired");
    }

    @Test
    void redisDown_thisReplicaFetchesAlone_atOnce() throws Exception {
        redis.stop();
        waitUntil(() -> !link.up(), "the link notices");
        CompletableFuture<UpstreamResult<BlobBody>> answer = replica.blob(NAME, DIGEST);
        // Decided before blob() returned (the fake upstream answers at once): nothing waited on Redis,
        // checked without a clock (issue 29).
        assertTrue(answer.isDone(), "no waiting for Redis");
        assertArrayEquals(BLOB, read(answer.get(5, TimeUnit.SECONDS)));
        assertEquals(1, upstream.blobGets.get());
        assertEquals(1.0, metrics.sum("pullthrough_cluster_blob_fetches", "source", "alone"));
    }

    private static void waitUntil(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(10);
        }
    }

    /** An upstream with one blob; counts blob GETs; can hold the body back, fail it, or refuse. */
    private static final class CountingUpstream extends TestUpstream {
        final AtomicInteger blobGets = new AtomicInteger();
        /** The body is sent once this completes: at once, unless a test holds it back. */
        volatile CompletableFuture<Void> release = CompletableFuture.completedFuture(null);
        volatile boolean failBody;
        volatile boolean refuse;

        @Override
        public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
            blobGets.incrementAndGet();
            if (refuse) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(new Refusal.NotFound()));
            }
            return CompletableFuture.completedFuture(UpstreamResult.ok(new BlobBody(BLOB.length, new BodySource() {
                @Override
                public void stream(BodySink sink) {
                    release.thenRunAsync(() -> {
                        if (failBody) {
                            sink.onError(new IOException("connection reset"));
                            return;
                        }
                        sink.onBytes(ByteBuffer.wrap(BLOB), () -> { });
                        sink.onEnd();
                    });
                }

                @Override
                public void cancel(String why) {
                }
            })));
        }




    }
}
