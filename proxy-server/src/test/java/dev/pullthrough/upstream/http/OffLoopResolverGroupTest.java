package dev.pullthrough.upstream.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.DefaultEventLoop;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Upstream name lookups never hold the event loop that connects: a slow DNS server stalls only its own lookup. */
class OffLoopResolverGroupTest {
    private final EventLoop loop = new DefaultEventLoop();
    private final DefaultEventExecutorGroup lookups = new DefaultEventExecutorGroup(1, new DefaultThreadFactory("test-dns", true));

    @AfterEach
    void tearDown() {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        lookups.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    @Test
    void slowLookup_theLoopKeepsRunning_theAddressArrivesWhenTheLookupEnds() throws Exception {
        CountDownLatch dnsAnswers = new CountDownLatch(1);
        AtomicReference<Thread> lookedUpOn = new AtomicReference<>();
        OffLoopResolverGroup group = new OffLoopResolverGroup(lookups, host -> {
            lookedUpOn.set(Thread.currentThread());
            try {
                dnsAnswers.await(30, TimeUnit.SECONDS); // a DNS server that takes its time
            } catch (InterruptedException e) {
                throw new UnknownHostException("interrupted");
            }
            return new InetAddress[] {InetAddress.getByAddress(host, new byte[] {127, 0, 0, 7})};
        });
        // As Netty's Bootstrap does: the resolve is asked on the channel's event loop.
        Future<InetSocketAddress> resolved = loop.submit(
                () -> group.getResolver(loop).resolve(InetSocketAddress.createUnresolved("registry.slow.test", 443))).get(10, TimeUnit.SECONDS);

        assertTrue(loop.submit(() -> "served").get(10, TimeUnit.SECONDS).equals("served"), "the loop runs other work meanwhile");
        assertFalse(resolved.isDone());
        dnsAnswers.countDown();
        InetSocketAddress address = resolved.get(10, TimeUnit.SECONDS);
        assertEquals("127.0.0.7", address.getAddress().getHostAddress());
        assertEquals(443, address.getPort());
        assertTrue(lookedUpOn.get().getName().startsWith("test-dns"), lookedUpOn.get().getName());
    }

    @Test
    void upstreamConnections_lookTheirNamesUpThroughIt() throws Exception {
        com.sun.net.httpserver.HttpServer server = com.sun.net.httpserver.HttpServer.create(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        server.start();
        AtomicReference<String> askedFor = new AtomicReference<>();
        ClientLoops loops = new ClientLoops(host -> {
            askedFor.set(host + " on " + Thread.currentThread().getName());
            return new InetAddress[] {InetAddress.getByAddress(host, new byte[] {127, 0, 0, 1})};
        });
        NettyHttpClient client = new NettyHttpClient(loops, dev.pullthrough.upstream.UpstreamTrust.of(java.util.Optional.empty()),
                java.time.Duration.ofSeconds(5), java.time.Duration.ofSeconds(10));
        try {
            // A name only the injected DNS knows: the JDK's own lookup would fail it.
            UpstreamResponse response = client.send("GET",
                    java.net.URI.create("http://registry.only-in-test-dns.test:" + server.getAddress().getPort() + "/v2/"),
                    java.util.List.of()).get(10, TimeUnit.SECONDS);
            assertEquals(204, response.status());
            assertTrue(askedFor.get().startsWith("registry.only-in-test-dns.test on upstream-dns"), askedFor.get());
        } finally {
            client.close();
            loops.close();
            server.stop(0);
        }
    }

    @Test
    void unknownHost_theConnectFailsWithTheLookupsError() throws Exception {
        OffLoopResolverGroup group = new OffLoopResolverGroup(lookups, host -> {
            throw new UnknownHostException(host + ": Name or service not known");
        });
        Future<InetSocketAddress> resolved = loop.submit(
                () -> group.getResolver(loop).resolve(InetSocketAddress.createUnresolved("nowhere.test", 80))).get(10, TimeUnit.SECONDS);
        ExecutionException failed = assertThrows(ExecutionException.class, () -> resolved.get(10, TimeUnit.SECONDS));
        assertInstanceOf(UnknownHostException.class, failed.getCause());
        assertTrue(failed.getCause().getMessage().contains("nowhere.test"));
    }
}
