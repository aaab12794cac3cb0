package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, hole 6: every host:port a redirect pointed to left a connection pool that was never
 * freed, until OutOfMemoryError (120,000 distinct origins, about 75 s). The proxy runs as README
 * starts it (128 MiB heap, exit on OutOfMemoryError); its upstream redirects blobs to other origins
 * (127.x.y.z are all this machine). The pools stay at their bound throughout, and the live heap grows
 * no more for blobs redirected to thousands of origins than for as many blobs redirected to one: each
 * new blob legitimately adds its index and cache entries (about 500 bytes), so only the difference
 * between the two phases is the origins' cost. The full 200,000-redirect run is
 * {@code bench/hostile/redirect-origins.sh}.
 */
class RedirectOriginsMemoryTest {
    private static final int ORIGINS = 3000;
    /** Blob numbers from here on are all redirected to {@link ScatteringUpstream#ONE_ORIGIN}. */
    private static final int SAME_ORIGIN_FROM = 1_000_000;
    /** Live heap samples taken (each after a full collection) for one reading; the least is kept. */
    private static final int SAMPLES = 3;
    private static final int MAX_ORIGIN_POOLS = 32;

    @TempDir
    Path temp;

    @Test
    void blobs_redirectedToThousandsOfDistinctOrigins_poolsBoundedHeapFlatSameProcess() throws Exception {
        try (ScatteringUpstream upstream = new ScatteringUpstream()) {
            int port = Loopback.freePort();
            // Each blob synced before its rename: the batched sync's owed commits (up to 5 s of them)
            // would otherwise sit in the heap in one reading and not in the next.
            String yaml = "storage:\n  syncInterval: 0s\nupstreams:\n  - name: scatter.test\n    url: http://127.0.0.1:"
                    + upstream.port() + "\n    default: true\n";
            try (ProxyProcess proxy = ProxyProcess.serveLikeReadme(temp.resolve("data"), yaml, port, temp.resolve("proxy.log"))) {
                URI url = URI.create("http://127.0.0.1:" + port);
                long pid = proxy.pid();
                pull(url, upstream, 0, 300); // warm: classes loaded, JIT, pools at their bound
                pull(url, upstream, SAME_ORIGIN_FROM, 300);
                long heapStart = liveHeap(url, pid);

                pull(url, upstream, SAME_ORIGIN_FROM + 300, ORIGINS); // as many blobs, one origin: what blobs alone cost
                long heapOneOrigin = liveHeap(url, pid);
                long residentBefore = proxy.residentBytes();

                long mostPools = 0;
                for (int from = 300; from < 300 + ORIGINS; from += 250) {
                    pull(url, upstream, from, 250);
                    mostPools = Math.max(mostPools, gauge(url, "pullthrough_upstream_origin_pools"));
                    assertTrue(mostPools <= MAX_ORIGIN_POOLS, "origin pools at most " + MAX_ORIGIN_POOLS + ", were " + mostPools
                            + " after " + (from + 250) + " origins");
                }

                long heapManyOrigins = liveHeap(url, pid);
                long residentAfter = proxy.residentBytes();
                long blobsCost = heapOneOrigin - heapStart;
                long originsCost = heapManyOrigins - heapOneOrigin;
                System.out.printf("redirect origins: %d distinct; pools at most %d; live heap %.2f MiB, +%.2f MiB for %d blobs"
                                + " from one origin, +%.2f MiB for %d blobs from as many origins; RSS %.1f -> %.1f MiB%n",
                        upstream.origins(), mostPools, heapStart / 1048576.0, blobsCost / 1048576.0, ORIGINS,
                        originsCost / 1048576.0, ORIGINS, residentBefore / 1048576.0, residentAfter / 1048576.0);
                assertTrue(proxy.isAlive());
                assertEquals(pid, proxy.pid());
                assertTrue(upstream.origins() >= 300 + ORIGINS + 1, "every scattered blob went to an origin of its own: " + upstream.origins());
                assertTrue(mostPools <= MAX_ORIGIN_POOLS, "origin pools at most " + MAX_ORIGIN_POOLS + ", were " + mostPools);
                // A pool kept per origin costs ~1 KB plus its idle connection: 3 MiB or more for 3,000 origins.
                assertTrue(originsCost - blobsCost < (512L << 10), "the live heap grew by " + originsCost + " bytes for " + ORIGINS
                        + " origins, against " + blobsCost + " bytes for as many blobs from one origin");
                // Over the scattered phase only; the allocator's arenas make resident memory coarse, hence the wide bound.
                assertTrue(residentAfter - residentBefore < (48L << 20), "resident memory grew by " + (residentAfter - residentBefore));
            }
        }
    }

    /** Pulls blobs {@code from} .. {@code from + count - 1} through the proxy, four at a time, checking their bytes. */
    private static void pull(URI proxy, ScatteringUpstream upstream, int from, int count) throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> pulls = new ArrayList<>();
            for (int i = from; i < from + count; i++) {
                int n = i;
                pulls.add(clients.submit(() -> {
                    byte[] blob = ScatteringUpstream.blob(n);
                    HttpResponse<byte[]> got = RegistryHttp.get(proxy, "/v2/test/app/blobs/" + upstream.register(n, blob));
                    assertEquals(200, got.statusCode(), new String(got.body(), StandardCharsets.UTF_8));
                    assertArrayEquals(blob, got.body());
                    return null;
                }));
            }
            for (Future<?> pull : pulls) {
                pull.get(60, TimeUnit.SECONDS);
            }
        } finally {
            clients.shutdownNow();
        }
    }

    /**
     * Heap in use after a full collection (jcmd GC.run; the serial collector collects everything),
     * the least of a few samples: what the scrape itself and background tasks allocated between the
     * collection and the reading is not live, and a busy machine makes it larger.
     */
    private static long liveHeap(URI proxy, long pid) throws Exception {
        long least = Long.MAX_VALUE;
        for (int i = 0; i < SAMPLES; i++) {
            Processes.runOk(60, "jcmd", Long.toString(pid), "GC.run");
            least = Math.min(least, (long) sum(proxy, "jvm_memory_used_bytes{area=\"heap\""));
        }
        return least;
    }

    private static long gauge(URI proxy, String name) throws Exception {
        return (long) sum(proxy, name + "{");
    }

    /** The sum of the samples in /metrics whose line starts with {@code prefix}. */
    private static double sum(URI proxy, String prefix) throws Exception {
        double total = 0;
        for (String line : new String(RegistryHttp.get(proxy, "/metrics").body(), StandardCharsets.UTF_8).split("\n")) {
            if (line.startsWith(prefix)) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return total;
    }

    /**
     * An upstream on every local address (so 127.x.y.z all reach it; other peers are hung up on) that
     * redirects blob n to {@code http://127.a.b.c:PORT/cdn/n}, an origin of its own (or {@link #ONE_ORIGIN}
     * for the one-origin phase), and serves it there.
     */
    private static final class ScatteringUpstream implements AutoCloseable {
        /** Where blobs from {@link #SAME_ORIGIN_FROM} on are redirected: outside the scattered range. */
        static final String ONE_ORIGIN = "127.254.254.254";
        private final HttpServer server;
        private final Map<String, Integer> numbers = new ConcurrentHashMap<>();
        private final Map<Integer, byte[]> blobs = new ConcurrentHashMap<>();
        private final Map<String, Boolean> origins = new ConcurrentHashMap<>();
        private final AtomicLong served = new AtomicLong();

        ScatteringUpstream() throws IOException {
            server = HttpServer.create(new InetSocketAddress(0), 512);
            server.setExecutor(Executors.newFixedThreadPool(8));
            server.createContext("/", this::answer);
            server.start();
        }

        static byte[] blob(int n) {
            return ("blob number " + n + " of the redirect-origins test").getBytes(StandardCharsets.UTF_8);
        }

        String register(int n, byte[] blob) {
            String digest = Digest.sha256Of(blob).toString();
            numbers.put(digest, n);
            blobs.put(n, blob);
            return digest;
        }

        int port() {
            return server.getAddress().getPort();
        }

        int origins() {
            return origins.size();
        }

        private void answer(HttpExchange exchange) throws IOException {
            try (exchange) {
                if (!exchange.getRemoteAddress().getAddress().isLoopbackAddress()) {
                    return;
                }
                String path = exchange.getRequestURI().getPath();
                if (path.startsWith("/v2/test/app/blobs/") && numbers.containsKey(path.substring(19))) {
                    int n = numbers.get(path.substring(19));
                    String origin = (n >= SAME_ORIGIN_FROM ? ONE_ORIGIN : "127." + (1 + n / 62500) + "." + (n / 250 % 250) + "." + (1 + n % 250))
                            + ":" + port();
                    exchange.getResponseHeaders().set("Location", "http://" + origin + "/cdn/" + n);
                    exchange.sendResponseHeaders(307, -1);
                } else if (path.startsWith("/cdn/")) {
                    byte[] blob = blobs.get(Integer.parseInt(path.substring(5)));
                    origins.put(exchange.getLocalAddress().getAddress().getHostAddress(), Boolean.TRUE);
                    served.incrementAndGet();
                    exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
                    exchange.sendResponseHeaders(200, blob.length);
                    try (OutputStream out = exchange.getResponseBody()) {
                        out.write(blob);
                    }
                } else if (path.equals("/v2/")) {
                    exchange.sendResponseHeaders(200, -1);
                } else {
                    exchange.sendResponseHeaders(404, -1);
                }
            }
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }
}
