package dev.pullthrough.upstream.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.pullthrough.upstream.UpstreamTrust;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An upstream (or a CDN it redirects to) that answers with {@code Connection: close} and hangs up at
 * once: the connection may be read to its end and closed before the caller takes the body, which
 * must still be whole (it was reported as "closed the connection in the middle of the body").
 */
class ConnectionCloseTest {
    @Test
    void aggregate_upstreamClosedRightAfterWholeResponse_bodyStillRead() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.setExecutor(Executors.newCachedThreadPool());
        byte[] body = "the whole body".getBytes(StandardCharsets.UTF_8);
        server.createContext("/", exchange -> {
            exchange.getResponseHeaders().set("Connection", "close");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        ClientLoops loops = new ClientLoops();
        NettyHttpClient client = new NettyHttpClient(loops, UpstreamTrust.of(Optional.empty()), Duration.ofSeconds(5), Duration.ofSeconds(10));
        try {
            UpstreamResponse response = client.send("GET", URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/x"), List.of())
                    .get(10, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (client.openConnections() > 0) { // the close has been seen: the body waits unread
                assertTrue(System.nanoTime() < deadline, "the upstream hung up");
                Thread.sleep(10);
            }
            assertEquals("the whole body", new String(response.aggregate(1024, Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS),
                    StandardCharsets.UTF_8));
        } finally {
            client.close();
            loops.close();
            server.stop(0);
        }
    }
}
