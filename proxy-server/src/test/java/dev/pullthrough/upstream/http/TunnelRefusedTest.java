package dev.pullthrough.upstream.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.config.Egress;
import dev.pullthrough.config.EgressProxy;
import dev.pullthrough.upstream.UpstreamTrust;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An egress proxy that refuses CONNECT (407, wrong password) and hangs up: each request is one
 * CONNECT and fails naming the refusal. Under load it was two (issue 29, EgressProxyTest on a busy
 * machine): the new connection's hand-over to the request ran on another event loop and came after
 * the refusal had closed it, so it looked like an idle connection the upstream had dropped and was
 * retried. Here that loop is held until the refused connection is closed, every time.
 */
class TunnelRefusedTest {
    /** How long the other loop is held at most (the connection may be on it: then nothing waits for the close). */
    private static final long HOLD_MILLIS = 1000;

    @Test
    void connectRefused_handOverLoopBusy_oneConnectPerRequest_failureNamesTheRefusal() throws Exception {
        try (RefusingProxy egress = new RefusingProxy()) {
            ClientLoops loops = new ClientLoops();
            EgressProxy proxy = new EgressProxy("127.0.0.1", egress.port(), Optional.of("user"), Optional.of("wrong"), "HTTP_PROXY");
            NettyHttpClient client = new NettyHttpClient(loops, UpstreamTrust.of(Optional.empty()), Duration.ofSeconds(5),
                    Duration.ofSeconds(10), Egress.through(proxy));
            try {
                int requests = 3;
                for (int i = 0; i < requests; i++) {
                    int n = i;
                    int closedBefore = egress.closed();
                    holdTheLoopAfterNext(loops, () -> egress.awaitClosed(closedBefore + 1, HOLD_MILLIS));
                    ExecutionException failed = assertThrows(ExecutionException.class,
                            () -> client.send("GET", URI.create("http://registry.test:5000/v2/app/manifests/v" + n), List.of())
                                    .get(10, TimeUnit.SECONDS));
                    assertTrue(String.valueOf(failed.getCause().getMessage()).contains("refused CONNECT to registry.test:5000: 407"),
                            String.valueOf(failed.getCause()));
                }
                assertEquals(requests, egress.connects(), "one CONNECT per request");
            } finally {
                client.close();
                loops.close();
            }
        }
    }

    /**
     * Holds, until {@code released} returns, the event loop that the group's next choice after this
     * call's falls on: where a request's hand-over would be completed if it were not the connection's own.
     */
    private static void holdTheLoopAfterNext(ClientLoops loops, Runnable released) {
        List<EventExecutor> all = new ArrayList<>();
        loops.group.forEach(all::add);
        EventExecutor mine = loops.group.next();
        all.get((all.indexOf(mine) + 1) % all.size()).execute(released);
    }

    /** Answers every CONNECT with 407 and waits for the client to hang up; counts both. */
    private static final class RefusingProxy implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        private final Thread acceptor = new Thread(this::serve, "refusing-proxy");
        private int connects;
        private int closed;

        RefusingProxy() throws IOException {
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        synchronized int connects() {
            return connects;
        }

        synchronized int closed() {
            return closed;
        }

        /** Returns once {@code count} connections were closed by the client, or after {@code millis}. */
        synchronized void awaitClosed(int count, long millis) {
            long deadline = System.currentTimeMillis() + millis;
            try {
                for (long left = millis; closed < count && left > 0; left = deadline - System.currentTimeMillis()) {
                    wait(left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private void serve() {
            while (!server.isClosed()) {
                try (Socket socket = server.accept()) {
                    InputStream in = socket.getInputStream();
                    String head = readHead(in);
                    synchronized (this) {
                        connects += head.startsWith("CONNECT ") ? 1 : 0;
                    }
                    OutputStream out = socket.getOutputStream();
                    out.write(("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"egress\"\r\n"
                            + "Content-Length: 0\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    while (in.read() >= 0) {
                        // until the client hangs up
                    }
                    synchronized (this) {
                        closed++;
                        notifyAll();
                    }
                } catch (IOException e) {
                    // closed by close(), or a client gone: the next one
                }
            }
        }

        private static String readHead(InputStream in) throws IOException {
            StringBuilder head = new StringBuilder();
            for (int b = in.read(); b >= 0; b = in.read()) {
                head.append((char) b);
                if (head.length() >= 4 && head.lastIndexOf("\r\n\r\n") == head.length() - 4) {
                    break;
                }
            }
            return head.toString();
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
