package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.app.ProxyCore;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.upstream.CheckStep;
import dev.pullthrough.upstream.UpstreamCheck;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Every step of the upstream check keeps the upstream's deadline (issue 27): against a server that
 * accepts connections and never says a word, the TLS handshake ends at responseTimeout, {@code GET /v2/}
 * at responseTimeout, and an egress proxy that never answers CONNECT at connectTimeout, each said as such.
 */
class CheckDeadlinesTest {
    private static final Duration DEADLINE = Duration.ofSeconds(2);

    @Test
    void check_silentServer_eachStepEndsAtItsDeadline_namingIt() throws Exception {
        List<Socket> held = new CopyOnWriteArrayList<>();
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        held.add(silent.accept()); // accepted, never answered
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            String at = "127.0.0.1:" + silent.getLocalPort();
            String deadlines = "    connectTimeout: 2s\n    responseTimeout: 2s\n";
            long started = System.nanoTime();
            List<UpstreamCheck> checks = ProxyCore.checkUpstreams(ConfigLoader.fromYaml("upstreams:\n"
                    + "  - name: tls\n    url: https://" + at + "\n    default: true\n" + deadlines
                    + "  - name: http\n    url: http://" + at + "\n" + deadlines
                    + "  - name: tunnel\n    url: https://registry.example\n    proxy: http://" + at + "\n" + deadlines, Map.of()));
            Duration all = Duration.ofNanos(System.nanoTime() - started);

            assertFailedAt(checks.get(0), "tls", "no TLS handshake with 127.0.0.1 within 2s (responseTimeout)");
            assertFailedAt(checks.get(1), "challenge", "127.0.0.1 did not answer within 2s");
            assertFailedAt(checks.get(2), "proxy", "egress proxy " + at + " (upstreams[2].proxy) did not open the tunnel to"
                    + " registry.example:443 within 2s");
            // The three run at once: each ends at its 2 s deadline, far below the JDK's or Netty's own (10 s and more).
            assertTrue(all.compareTo(Duration.ofSeconds(8)) < 0, "the checks took " + all);
        } finally {
            for (Socket socket : held) {
                socket.close();
            }
        }
    }

    private static void assertFailedAt(UpstreamCheck check, String step, String cause) {
        CheckStep failed = check.failure().orElseThrow(() -> new AssertionError("no failure: " + check));
        assertEquals(step, failed.name(), check.toString());
        assertTrue(failed.detail().startsWith(cause), failed.detail());
        assertTrue(failed.took().compareTo(DEADLINE.minusMillis(100)) >= 0, "waited out the deadline: " + failed);
        assertTrue(failed.took().compareTo(DEADLINE.plusSeconds(4)) < 0, "not much longer: " + failed);
    }
}
