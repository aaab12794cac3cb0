package dev.pullthrough.upstream.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.benmanes.caffeine.cache.Ticker;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.pullthrough.upstream.UpstreamTrust;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The client's connection pools stay bounded whatever origins it is sent to (issue 26, hole 6: a
 * pool per redirect origin, never freed, until OutOfMemoryError). 127.x.y.z are all this machine, so
 * one server answers thousands of distinct origins.
 */
class OriginPoolsTest {
    private final AtomicLong nanos = new AtomicLong();
    private final Ticker ticker = nanos::get;
    private final Set<String> clientPorts = ConcurrentHashMap.newKeySet();
    private HttpServer server;
    private ClientLoops loops;
    private NettyHttpClient client;
    private volatile CountDownLatch hold = new CountDownLatch(0);

    @BeforeEach
    void start() throws IOException {
        // Every address, so that 127.x.y.z all reach it; anything not from this machine is hung up on.
        server = HttpServer.create(new InetSocketAddress(0), 256);
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", this::answer);
        server.start();
        loops = new ClientLoops();
        client = new NettyHttpClient(loops, UpstreamTrust.of(Optional.empty()), Duration.ofSeconds(5), Duration.ofSeconds(10), ticker);
    }

    @AfterEach
    void stop() {
        client.close();
        loops.close();
        server.stop(0);
    }

    private void answer(HttpExchange exchange) throws IOException {
        if (!exchange.getRemoteAddress().getAddress().isLoopbackAddress()) {
            exchange.close();
            return;
        }
        // A connection is its client address and port: the same port may serve another destination address.
        clientPorts.add(exchange.getRemoteAddress() + " -> " + exchange.getLocalAddress());
        hold.countDown();
        try {
            hold.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        byte[] body = "ok".getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private URI origin(int i) {
        return URI.create("http://127." + (1 + i / 62500) + "." + (i / 250 % 250) + "." + (1 + i % 250)
                + ":" + server.getAddress().getPort() + "/v2/");
    }

    private byte[] get(URI uri) throws Exception {
        return client.send("GET", uri, List.of()).thenCompose(r -> r.aggregate(1024, Duration.ofSeconds(10)))
                .get(20, TimeUnit.SECONDS);
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "not within 10 s: " + what);
            Thread.sleep(20);
        }
    }

    // ---------------------------------------------------------------- across origins

    @Test
    void send_thousandsOfDistinctOrigins_poolsAndConnectionsStayBounded() throws Exception {
        for (int i = 0; i < 3000; i++) {
            assertEquals("ok", new String(get(origin(i)), StandardCharsets.UTF_8));
            long pools = client.originPools();
            assertTrue(pools <= NettyHttpClient.MAX_ORIGINS, "at most " + NettyHttpClient.MAX_ORIGINS + " pools, had " + pools
                    + " after " + (i + 1) + " origins");
        }
        assertEquals(3000, clientPorts.size(), "each origin got a connection of its own");
        // An evicted pool's idle connection is closed with it, not left open for its idle timeout.
        await(() -> client.openConnections() <= NettyHttpClient.MAX_ORIGINS,
                "open connections down to one per kept origin, had " + client.openConnections());
    }

    @Test
    void send_poolUnusedForIdleTime_closedWithItsConnections() throws Exception {
        for (int i = 0; i < 5; i++) {
            get(origin(i));
        }
        assertEquals(5, client.originPools());
        await(() -> client.openConnections() == 5, "one kept-alive connection per origin");

        nanos.addAndGet(TimeUnit.SECONDS.toNanos(61));

        assertEquals(0, client.originPools(), "pools unused for a minute are dropped");
        await(() -> client.openConnections() == 0, "their connections closed, had " + client.openConnections());
    }

    // ---------------------------------------------------------------- within one origin

    @Test
    void send_sameOriginAgain_reusesTheConnection() throws Exception {
        get(origin(7));
        get(origin(7));
        assertEquals(1, clientPorts.size(), "one connection for both requests");
        assertEquals(1, client.originPools());
    }

    /** The next request sent from the first answer's completion (on the loop, before anything else runs there). */
    @Test
    void send_fromTheFirstAnswersCompletion_reusesItsConnection() throws Exception {
        byte[] second = client.send("GET", origin(7), List.of())
                .thenCompose(first -> first.aggregate(1024, Duration.ofSeconds(10)))
                .thenCompose(body -> client.send("GET", origin(7), List.of()))
                .thenCompose(next -> next.aggregate(1024, Duration.ofSeconds(10)))
                .get(20, TimeUnit.SECONDS);
        assertEquals("ok", new String(second, StandardCharsets.UTF_8));
        assertEquals(1, clientPorts.size(), "one connection for both requests");
    }

    @Test
    void send_burstToOneOrigin_keepsAtMostMaxIdleConnections() throws Exception {
        int burst = 3 * NettyHttpClient.MAX_IDLE_PER_ORIGIN;
        hold = new CountDownLatch(burst); // the server answers once all of them are in: that many connections at once
        List<CompletableFuture<byte[]>> answers = new ArrayList<>();
        for (int i = 0; i < burst; i++) {
            answers.add(client.send("GET", origin(1), List.of()).thenCompose(r -> r.aggregate(1024, Duration.ofSeconds(10))));
        }
        for (CompletableFuture<byte[]> answer : answers) {
            assertEquals("ok", new String(answer.get(20, TimeUnit.SECONDS), StandardCharsets.UTF_8));
        }
        assertEquals(burst, clientPorts.size());
        await(() -> client.openConnections() <= NettyHttpClient.MAX_IDLE_PER_ORIGIN,
                "idle connections beyond " + NettyHttpClient.MAX_IDLE_PER_ORIGIN + " closed, had " + client.openConnections());
        clientPorts.clear();
        get(origin(1));
        assertEquals(1, clientPorts.size());
    }
}
