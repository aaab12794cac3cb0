package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile clients (issue 13): headers trickled a byte at a time are cut off at the header deadline,
 * and one client address cannot hold more connections than its share.
 */
class SlowClientTest {
    @TempDir
    Path temp;

    private ProxyUnderTest proxy(String serverYaml) {
        return ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: u\n    url: http://127.0.0.1:9\n"
                + "server:\n" + serverYaml);
    }

    @Test
    void slowHeaders_connectionClosedAtHeaderDeadline() throws Exception {
        try (ProxyUnderTest proxy = proxy("  headerTimeout: 1s\n");
             Socket slow = new Socket()) {
            slow.connect(new InetSocketAddress("127.0.0.1", proxy.url().getPort()));
            slow.setSoTimeout(200);
            OutputStream out = slow.getOutputStream();
            InputStream in = slow.getInputStream();
            long started = System.nanoTime();
            boolean closed = false;
            byte[] request = "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".getBytes(StandardCharsets.US_ASCII);
            for (int i = 0; i < request.length && !closed; i++) {
                try {
                    out.write(request[i]);
                    out.flush();
                } catch (IOException e) {
                    closed = true;
                    break;
                }
                try {
                    closed = in.read() < 0; // 200 ms between bytes: every byte would restart an idle timer
                } catch (SocketTimeoutException e) {
                    // still open
                } catch (IOException e) {
                    closed = true;
                }
            }
            long seconds = (System.nanoTime() - started) / 1_000_000_000L;
            assertTrue(closed, "the trickling client was cut off");
            assertTrue(seconds < 4, "within the 1 s header deadline (took " + seconds + " s)");
            assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/").statusCode(), "others are still answered");
        }
    }

    @Test
    void connectionsPerClient_pastTheLimitClosed() throws Exception {
        List<Socket> held = new ArrayList<>();
        try (ProxyUnderTest proxy = proxy("  maxConnectionsPerClient: 20\n")) {
            try {
                for (int i = 0; i < 25; i++) {
                    Socket socket = new Socket("127.0.0.1", proxy.url().getPort());
                    // Short reads probe whether a connection is still open; only an end of stream or a
                    // reset counts as closed.
                    socket.setSoTimeout(50);
                    held.add(socket);
                }
                // Which five are closed is the proxy's order of connections (its event loops), not
                // necessarily ours: count closed ones among all 25, waiting for the proxy to act.
                Set<Socket> closed = new HashSet<>();
                Await.until(() -> {
                    for (Socket socket : held) {
                        if (!closed.contains(socket) && closedByProxy(socket)) {
                            closed.add(socket);
                        }
                    }
                    return closed.size() >= 5;
                }, Duration.ofSeconds(60), "five of the 25 connections closed by the proxy");
                for (Socket socket : held) {
                    if (!closed.contains(socket) && closedByProxy(socket)) {
                        closed.add(socket);
                    }
                }
                assertEquals(5, closed.size(), "the connections past 20 were closed, and no more");
                Socket first = held.stream().filter(socket -> !closed.contains(socket)).findFirst().orElseThrow();
                first.setSoTimeout(30_000);
                first.getOutputStream().write("GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                byte[] answer = new byte[12];
                int n = first.getInputStream().readNBytes(answer, 0, 12);
                assertEquals("HTTP/1.1 200", new String(answer, 0, n, StandardCharsets.US_ASCII), "the first 20 are served");
            } finally {
                for (Socket socket : held) {
                    socket.close();
                }
            }
            long deadline = System.nanoTime() + 60_000_000_000L;
            int status = 0;
            while (System.nanoTime() < deadline && (status = RegistryHttp.get(proxy.url(), "/v2/").statusCode()) != 200) {
                Thread.sleep(20);
            }
            assertEquals(200, status, "once they are closed, the client is served again");
        }
    }

    /**
     * End of stream or a reset: the proxy closed it. A read timeout means the connection is still open,
     * so it must not count as closed (issue 29: counting it made the test pass with no limit at all).
     */
    private static boolean closedByProxy(Socket socket) {
        try {
            return socket.getInputStream().read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }
}
