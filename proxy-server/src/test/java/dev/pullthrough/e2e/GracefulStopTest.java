package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.testing.Loopback;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stop on SIGTERM (issue 30), on the proxy as its own JVM started as README starts it: not
 * ready at once, new connections served during server.drainDelay, idle keep-alive connections
 * closed after it, a blob stream in flight finished and committed, exit 0; and a stop cut short
 * (server.drainTimeout, a second SIGTERM) that ends promptly and keeps every committed blob.
 */
class GracefulStopTest {
    private static final String REPO = "/v2/drain/app/blobs/";
    private static final int HELD_SIZE = 8 << 20;
    private static final int HELD_FIRST = 1 << 20;

    @TempDir
    Path temp;

    private final CountDownLatch release = new CountDownLatch(1);
    private FaultyUpstream upstream;
    private ProxyProcess proxy;

    @AfterEach
    void stopEverything() {
        release.countDown();
        if (proxy != null && proxy.isAlive()) {
            proxy.kill();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    private static byte[] random(int size, long seed) {
        byte[] bytes = new byte[size];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /** A blob the upstream sends whole at once; HEAD answered too, as a registry does. */
    private Digest small(byte[] blob) {
        Digest digest = Digest.sha256Of(blob);
        upstream.route("GET " + REPO + digest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
        upstream.route("HEAD " + REPO + digest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
        return digest;
    }

    /** A blob whose first MiB is sent at once and the rest when the test opens {@link #release}. */
    private Digest held(byte[] blob) {
        Digest digest = Digest.sha256Of(blob);
        upstream.route("GET " + REPO + digest, FaultyUpstream.held(blob, HELD_FIRST, release));
        upstream.route("HEAD " + REPO + digest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
        return digest;
    }

    /** The proxy as README starts it; its drain settings from the environment, as the test fixture sets a delay of 0s there. */
    private ProxyProcess serve(Path data, String drainDelay, String drainTimeout, int port, int adminPort, String logName) {
        String yaml = "upstreams:\n  - name: u\n    url: " + upstream.url() + "\n";
        return ProxyProcess.serveLikeReadme(data, yaml, port, temp.resolve(logName), Map.of(
                "PULLTHROUGH_ADMIN_PORT", Integer.toString(adminPort),
                "PULLTHROUGH_SERVER_DRAINDELAY", drainDelay,
                "PULLTHROUGH_SERVER_DRAINTIMEOUT", drainTimeout));
    }

    /** SIGTERM, as {@code kill -TERM PID} sends it (no shell in between, so the clock starts at the signal). */
    private static void sigterm(ProxyProcess process) {
        assertTrue(ProcessHandle.of(process.pid()).orElseThrow().destroy(), "SIGTERM sent");
    }

    /** What /readyz polls saw after SIGTERM, as milliseconds since the signal. */
    private record Readiness(long lastReadySent, long firstNotReadySent, long firstNotReadyAnswered) {}

    /** Polls /readyz on new connections until it answers 503 (draining). */
    private static Readiness pollUntilNotReady(int adminPort, long since) {
        long lastReadySent = -1;
        while (true) {
            long sent = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
            String answer = RawHttp.exchange("127.0.0.1:" + adminPort,
                    "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            long answered = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
            if (answer.startsWith("HTTP/1.1 503")) {
                assertTrue(answer.endsWith("draining\n"), answer);
                return new Readiness(lastReadySent, sent, answered);
            }
            assertTrue(answer.startsWith("HTTP/1.1 200"), "ready until the signal: " + answer);
            assertTrue(answered < 10_000, "/readyz still answers 200 " + answered + " ms after SIGTERM");
            lastReadySent = sent;
        }
    }

    /** A pull read to its end in the background: the bytes received so far, then its status, length and digest. */
    private static final class Pull {
        final AtomicLong received = new AtomicLong();
        final CompletableFuture<String> outcome;

        Pull(URI proxy, Digest digest) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            outcome = CompletableFuture.supplyAsync(() -> {
                try {
                    HttpResponse<InputStream> response = http.send(HttpRequest.newBuilder(proxy.resolve(REPO + digest)).build(),
                            HttpResponse.BodyHandlers.ofInputStream());
                    MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
                    try (InputStream in = response.body()) {
                        byte[] buffer = new byte[64 * 1024];
                        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                            sha256.update(buffer, 0, n);
                            received.addAndGet(n);
                        }
                    }
                    return response.statusCode() + " " + received.get() + " sha256:" + java.util.HexFormat.of().formatHex(sha256.digest());
                } catch (Exception e) {
                    return "failed after " + received.get() + " bytes: " + e;
                }
            });
        }
    }

    private static List<String> phaseLines(Path log) throws IOException {
        return Files.readAllLines(log).stream().filter(l -> l.contains("- stop") || l.contains("pullthrough stopped")).toList();
    }

    // ---------------------------------------------------------------- a drained stop

    @Test
    void sigterm_blobStreamInFlight_notReadyAtOnceNewConnectionServedStreamCompletesAndCommitsExitZero() throws Exception {
        Path data = temp.resolve("proxy");
        upstream = new FaultyUpstream();
        byte[] heldBlob = random(HELD_SIZE, 301);
        byte[] duringDelay = random(300_000, 302);
        byte[] onKeptConnection = random(200_000, 303);
        Digest heldDigest = held(heldBlob);
        Digest newConnectionDigest = small(duringDelay);
        Digest keptConnectionDigest = small(onKeptConnection);
        int port = Loopback.freePort();
        int adminPort = Loopback.freePort();
        Duration drainDelay = Duration.ofSeconds(3);
        proxy = serve(data, "3s", "60s", port, adminPort, "serve.log");

        try (KeepAlive used = new KeepAlive(port); KeepAlive idle = new KeepAlive(port); KeepAlive probe = new KeepAlive(adminPort)) {
            assertEquals(200, used.get("/v2/").status);
            assertEquals(200, idle.get("/v2/").status);
            Pull pull = new Pull(proxy.url(), heldDigest);
            Await.until(() -> pull.received.get() >= HELD_FIRST / 2, Duration.ofSeconds(30), "the held blob streaming to its client");

            // /readyz: polled on new connections from the signal on, and asked once 100 ms after it on a
            // connection opened before (so that the answer measures the proxy, not the poller's pace).
            KeepAlive.Response readyBefore = probe.get("/readyz");
            assertEquals(200, readyBefore.status, new String(readyBefore.body, StandardCharsets.UTF_8));
            long signalled = System.nanoTime();
            sigterm(proxy);
            CompletableFuture<Readiness> polls = CompletableFuture.supplyAsync(() -> pollUntilNotReady(adminPort, signalled));
            Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(signalled + TimeUnit.MILLISECONDS.toNanos(100) - System.nanoTime())));
            KeepAlive.Response at100 = probe.get("/readyz");
            long at100Answered = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
            assertEquals(503, at100.status, "/readyz asked 100 ms after SIGTERM");
            Readiness readiness = polls.get(15, TimeUnit.SECONDS);
            System.out.println("/readyz after SIGTERM: last 200 to a poll sent at " + readiness.lastReadySent() + " ms; first 503 to a"
                    + " poll sent at " + readiness.firstNotReadySent() + " ms, answered at " + readiness.firstNotReadyAnswered()
                    + " ms; the request sent at 100 ms answered " + at100.status + " at " + at100Answered + " ms");
            assertEquals("draining\n", new String(at100.body, StandardCharsets.UTF_8));
            assertTrue(readiness.lastReadySent() < 100, "no poll sent 100 ms or more after SIGTERM is answered 200: " + readiness);

            // In the drain delay: a kept-alive connection is answered, told to close, and closed.
            KeepAlive.Response kept = used.get(REPO + keptConnectionDigest);
            assertEquals(200, kept.status);
            assertArrayEquals(onKeptConnection, kept.body);
            assertEquals("close", kept.headers.get("connection"), "the answer in the drain is the connection's last");
            Await.until(used::closedByServer, Duration.ofSeconds(5), "the kept-alive connection closed after its answer");
            // ... and a new connection is served.
            HttpResponse<byte[]> fresh = RegistryHttp.get(proxy.url(), REPO + newConnectionDigest);
            long servedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
            assertEquals(200, fresh.statusCode());
            assertArrayEquals(duringDelay, fresh.body());
            assertTrue(servedMillis < drainDelay.toMillis(), "served within the drain delay: " + servedMillis + " ms after SIGTERM");
            assertFalse(idle.closedByServer(), "an idle connection stays open during the drain delay");

            // After the delay: idle connections closed, nothing new accepted, the stream still held.
            Await.until(idle::closedByServer, Duration.ofSeconds(15), "the idle keep-alive connection closed after the drain delay");
            long idleClosedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
            assertTrue(idleClosedMillis >= drainDelay.toMillis(), "closed only after the delay: " + idleClosedMillis + " ms");
            Await.until(() -> refused(port), Duration.ofSeconds(5), "the registry listener closed after the drain delay");
            assertTrue(proxy.isAlive(), "the held stream keeps the process draining");
            assertFalse(pull.outcome.isDone(), "the stream is still in flight: " + pull.outcome.getNow(""));

            release.countDown();
            assertEquals("200 " + HELD_SIZE + " " + heldDigest, pull.outcome.get(30, TimeUnit.SECONDS), "the held stream completed");
            assertEquals(0, proxy.awaitExit(Duration.ofSeconds(30)), "a drained stop exits 0");
        }
        List<String> phases = phaseLines(temp.resolve("serve.log"));
        phases.forEach(System.out::println);
        for (String phase : new String[] {"stop 1/4: SIGTERM", "stop 2/4", "stop 3/4", "stop 4/4", "pullthrough stopped"}) {
            assertTrue(phases.stream().anyMatch(l -> l.contains(phase)), "log has '" + phase + "': " + phases);
        }
        assertTrue(phases.stream().noneMatch(l -> l.contains("cutting")), "nothing cut: " + phases);

        // The download that had a client committed during the drain: a restart serves it from the disk.
        proxy = serve(data, "0s", "30s", Loopback.freePort(), Loopback.freePort(), "restart.log");
        HttpResponse<byte[]> again = RegistryHttp.get(proxy.url(), REPO + heldDigest);
        assertEquals(200, again.statusCode());
        assertArrayEquals(heldBlob, again.body());
        assertEquals(1, upstream.count("GET " + REPO + heldDigest), "committed in the drain: not fetched again");
    }

    private static boolean refused(int port) {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    // ---------------------------------------------------------------- a stop cut short

    @Test
    void sigterm_drainTimeoutWithStreamHeld_endsPromptlyAndRestartServesEveryCommittedBlob() throws Exception {
        assertCutShortKeepsCommitted("0s", "1s", false, "server.drainTimeout 1s reached");
    }

    @Test
    void sigterm_secondSigtermDuringTheDrain_endsPromptlyAndRestartServesEveryCommittedBlob() throws Exception {
        assertCutShortKeepsCommitted("5s", "60s", true, "a second signal");
    }

    /**
     * Three blobs committed, a fourth held mid-stream, SIGTERM (and a second one when {@code twice}):
     * the process ends promptly, the held client never sees a complete body, and a restart on the same
     * data serves the three from the disk.
     */
    private void assertCutShortKeepsCommitted(String drainDelay, String drainTimeout, boolean twice, String why) throws Exception {
        Path data = temp.resolve("proxy");
        upstream = new FaultyUpstream();
        List<byte[]> committed = List.of(random(100_000, 311), random(2 << 20, 312), random(5_000, 313));
        Map<Digest, byte[]> byDigest = new HashMap<>();
        for (byte[] blob : committed) {
            byDigest.put(small(blob), blob);
        }
        Digest heldDigest = held(random(HELD_SIZE, 314));
        int adminPort = Loopback.freePort();
        proxy = serve(data, drainDelay, drainTimeout, Loopback.freePort(), adminPort, "serve.log");
        for (Map.Entry<Digest, byte[]> blob : byDigest.entrySet()) {
            assertArrayEquals(blob.getValue(), RegistryHttp.get(proxy.url(), REPO + blob.getKey()).body());
            Path file = data.resolve("blobs/sha256").resolve(blob.getKey().hex().substring(0, 2)).resolve(blob.getKey().hex());
            Await.until(() -> Files.exists(file), Duration.ofSeconds(10), "blob " + blob.getKey() + " committed");
        }
        Pull pull = new Pull(proxy.url(), heldDigest);
        Await.until(() -> pull.received.get() >= HELD_FIRST / 2, Duration.ofSeconds(30), "the held blob streaming to its client");

        long signalled = System.nanoTime();
        sigterm(proxy);
        long lastSignal = signalled;
        if (twice) {
            pollUntilNotReady(adminPort, signalled);
            lastSignal = System.nanoTime();
            sigterm(proxy);
        }
        int exit = proxy.awaitExit(Duration.ofSeconds(30));
        long exitMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastSignal);
        System.out.println("exited " + exit + " " + exitMillis + " ms after the " + (twice ? "second " : "") + "SIGTERM ("
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled) + " ms after the first)");
        List<String> phases = phaseLines(temp.resolve("serve.log"));
        phases.forEach(System.out::println);
        assertEquals(0, exit, "the storage closed cleanly");
        assertTrue(exitMillis < 10_000, "ended promptly, not " + exitMillis + " ms after the signal");
        assertTrue(phases.stream().anyMatch(l -> l.contains(why) && l.contains("cutting 1 response,")), "cut short by " + why + ": " + phases);
        String held = pull.outcome.get(10, TimeUnit.SECONDS);
        assertFalse(held.startsWith("200 " + HELD_SIZE), "a cut stream never looks complete: " + held);

        release.countDown();
        proxy = serve(data, "0s", "30s", Loopback.freePort(), Loopback.freePort(), "restart.log");
        for (Map.Entry<Digest, byte[]> blob : byDigest.entrySet()) {
            HttpResponse<byte[]> again = RegistryHttp.get(proxy.url(), REPO + blob.getKey());
            assertEquals(200, again.statusCode());
            assertArrayEquals(blob.getValue(), again.body());
            assertEquals(1, upstream.count("GET " + REPO + blob.getKey()), "served from the disk after the restart: " + blob.getKey());
        }
    }

    // ---------------------------------------------------------------- a kept-alive connection

    /** One HTTP/1.1 connection kept open between requests, as clients keep them. */
    private static final class KeepAlive implements AutoCloseable {
        record Response(int status, Map<String, String> headers, byte[] body) {}

        private final Socket socket;
        private final BufferedInputStream in;

        KeepAlive(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(10_000);
            in = new BufferedInputStream(socket.getInputStream());
        }

        Response get(String path) throws IOException {
            socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            String status = line();
            Map<String, String> headers = new HashMap<>();
            for (String header = line(); !header.isEmpty(); header = line()) {
                int colon = header.indexOf(':');
                headers.put(header.substring(0, colon).trim().toLowerCase(Locale.ROOT), header.substring(colon + 1).trim());
            }
            byte[] body = in.readNBytes(Integer.parseInt(headers.getOrDefault("content-length", "0")));
            return new Response(Integer.parseInt(status.split(" ")[1]), headers, body);
        }

        private String line() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            for (int b = in.read(); b != '\n'; b = in.read()) {
                if (b < 0) {
                    throw new IOException("connection closed mid-response");
                }
                if (b != '\r') {
                    line.write(b);
                }
            }
            return line.toString(StandardCharsets.ISO_8859_1);
        }

        /** Whether the server closed it (end of stream or reset); waits up to 50 ms for that. */
        boolean closedByServer() throws IOException {
            socket.setSoTimeout(50);
            try {
                return in.read() < 0;
            } catch (SocketTimeoutException e) {
                return false;
            } catch (IOException e) {
                return true;
            } finally {
                socket.setSoTimeout(10_000);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
