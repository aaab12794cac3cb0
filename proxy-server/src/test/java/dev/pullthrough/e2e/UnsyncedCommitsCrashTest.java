package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Commits synced in batches (issue 28): kill -9 during and right after a burst of cold pulls, and a
 * power loss simulated by tearing committed blobs inside the not-yet-synced window. A start after
 * either re-hashes what was owed, removes what is torn, fetches it again, and never serves it torn.
 */
class UnsyncedCommitsCrashTest {
    private static final Pattern REHASHED = Pattern.compile(
            "unclean stop: re-hashed (\\d+) blobs committed after the last sync \\((\\d+) bytes\\) in (\\d+) ms; (\\d+) torn blobs removed");
    /** Longer than any test takes: what is committed stays owed until the kill, so the tests do not race the sync. */
    private static final Map<String, String> LONG_WINDOW = Map.of("PULLTHROUGH_STORAGE_SYNCINTERVAL", "1m");

    @TempDir
    Path temp;

    private final ExecutorService clients = Executors.newFixedThreadPool(10);
    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void stopClients() {
        clients.shutdownNow();
    }

    private static List<byte[]> randomBlobs(int count, int size, long seed) {
        Random random = new Random(seed);
        List<byte[]> blobs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] blob = new byte[size];
            random.nextBytes(blob);
            blobs.add(blob);
        }
        return blobs;
    }

    private static String path(byte[] blob) {
        return "/v2/crash/owed/blobs/" + Digest.sha256Of(blob);
    }

    private static long markers(Path data) throws IOException {
        Path dir = data.resolve("unsynced");
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.count();
        }
    }

    private static Path blobFile(Path data, byte[] blob) {
        Digest digest = Digest.sha256Of(blob);
        return data.resolve("blobs").resolve(digest.algorithm()).resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
    }

    private CompletableFuture<Void> pull(URI proxy, byte[] blob) {
        return CompletableFuture.runAsync(() -> {
            try {
                HttpResponse<InputStream> response = http.send(HttpRequest.newBuilder(proxy.resolve(path(blob))).build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                try (InputStream in = response.body()) {
                    in.transferTo(OutputStream.nullOutputStream());
                }
            } catch (IOException e) {
                // the kill cut it
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, clients);
    }

    /**
     * Markers whose blob was renamed into place before the kill: what a start re-hashes. A marker is
     * written before its rename, so a kill between the two leaves one for a blob that was never
     * committed (more likely on a loaded machine, where that gap is longer).
     */
    private static long committedMarkers(Path data) throws IOException {
        Path dir = data.resolve("unsynced");
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        BlobPaths paths = new BlobPaths(data);
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(marker -> marker.getFileName().toString().replaceFirst("-", ":"))
                    .filter(name -> Files.exists(paths.blob(Digest.parse(name))))
                    .count();
        }
    }

    /** The re-hash a start after an unclean stop logged: blobs, bytes, millis, torn. */
    private static long[] rehashed(Path log) throws IOException {
        Matcher matcher = REHASHED.matcher(Files.readString(log));
        assertTrue(matcher.find(), "the start logged its re-hash:\n" + Files.readString(log));
        return new long[] {Long.parseLong(matcher.group(1)), Long.parseLong(matcher.group(2)),
                Long.parseLong(matcher.group(3)), Long.parseLong(matcher.group(4))};
    }

    private static void assertServedWhole(URI proxy, List<byte[]> blobs) throws Exception {
        for (byte[] blob : blobs) {
            HttpResponse<byte[]> response = RegistryHttp.get(proxy, path(blob));
            assertEquals(200, response.statusCode());
            assertArrayEquals(blob, response.body(), "blob " + Digest.sha256Of(blob) + " served whole");
        }
    }

    // ---------------------------------------------------------------- kill -9

    @Test
    void crash_killedRightAfterABurstOfColdPulls_startRehashesTheBurstServesEveryBlobFromTheCache() throws Exception {
        Path data = temp.resolve("proxy");
        List<byte[]> blobs = randomBlobs(8, 4 << 20, 281);
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            for (byte[] blob : blobs) {
                upstream.route("GET " + path(blob), FaultyUpstream.trickle(blob, 1 << 20, 0, Long.MAX_VALUE));
            }
            int port = Loopback.freePort();
            ProxyProcess proxy = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve1.log"), LONG_WINDOW);
            CompletableFuture.allOf(blobs.stream().map(blob -> pull(proxy.url(), blob)).toArray(CompletableFuture[]::new)).join();
            Await.until(() -> committedMarkers(data) == blobs.size(), Duration.ofSeconds(30),
                    "every commit of the burst renamed into place and recorded as owed");
            proxy.kill();

            try (ProxyProcess restarted = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve2.log"), LONG_WINDOW)) {
                long[] report = rehashed(temp.resolve("serve2.log"));
                assertEquals(blobs.size(), report[0], "the burst re-hashed");
                assertEquals(0, report[3], "nothing torn by a kill -9: the page cache kept it");
                assertEquals(0, markers(data), "settled by the start");
                assertServedWhole(restarted.url(), blobs);
                for (byte[] blob : blobs) {
                    assertEquals(1, upstream.count("GET " + path(blob)), "served from the cache after the restart");
                }
            }
        }
    }

    @Test
    void crash_killedDuringABurstOfColdPulls_everyBlobServedWholeAfterTheStart() throws Exception {
        Path data = temp.resolve("proxy");
        List<byte[]> fast = randomBlobs(3, 2 << 20, 282);
        List<byte[]> slow = randomBlobs(7, 8 << 20, 283);
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            for (byte[] blob : fast) {
                upstream.route("GET " + path(blob), FaultyUpstream.trickle(blob, 1 << 20, 0, Long.MAX_VALUE));
            }
            for (byte[] blob : slow) {
                upstream.route("GET " + path(blob), FaultyUpstream.trickle(blob, 256 * 1024, 50, Long.MAX_VALUE));
            }
            int port = Loopback.freePort();
            ProxyProcess proxy = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve1.log"), LONG_WINDOW);
            List<byte[]> all = new ArrayList<>(fast);
            all.addAll(slow);
            all.forEach(blob -> pull(proxy.url(), blob));
            Await.until(() -> committedMarkers(data) >= fast.size(), Duration.ofSeconds(30), "the fast blobs committed");
            try (Stream<Path> inFlight = Files.list(data.resolve("tmp"))) {
                assertTrue(inFlight.findAny().isPresent(), "the slow ones still downloading");
            }
            proxy.kill();
            long rehashable = committedMarkers(data);

            try (ProxyProcess restarted = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve2.log"), LONG_WINDOW)) {
                assertEquals(rehashable, rehashed(temp.resolve("serve2.log"))[0], "what was owed at the kill, re-hashed");
                assertServedWhole(restarted.url(), all);
                for (byte[] blob : fast) {
                    assertEquals(1, upstream.count("GET " + path(blob)), "a committed blob is kept");
                }
            }
        }
    }

    // ---------------------------------------------------------------- power loss

    @Test
    void powerLoss_committedBlobsTornInsideTheWindow_startRemovesThemFetchedAgainNeverServedTorn() throws Exception {
        Path data = temp.resolve("proxy");
        List<byte[]> blobs = randomBlobs(3, 3 << 20, 284);
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            for (byte[] blob : blobs) {
                upstream.route("GET " + path(blob), FaultyUpstream.trickle(blob, 1 << 20, 0, Long.MAX_VALUE));
            }
            int port = Loopback.freePort();
            ProxyProcess proxy = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve1.log"), LONG_WINDOW);
            for (byte[] blob : blobs) {
                pull(proxy.url(), blob).join();
            }
            Await.until(() -> committedMarkers(data) == blobs.size(), Duration.ofSeconds(30), "all three committed, none synced");
            proxy.kill();
            // What a power loss can leave of pages the kernel had not written back: a short file, or zeros.
            try (RandomAccessFile file = new RandomAccessFile(blobFile(data, blobs.get(0)).toFile(), "rw")) {
                file.setLength(file.length() / 2);
            }
            try (RandomAccessFile file = new RandomAccessFile(blobFile(data, blobs.get(1)).toFile(), "rw")) {
                file.seek(file.length() - (64 << 10));
                file.write(new byte[64 << 10]);
            }

            try (ProxyProcess restarted = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve2.log"), LONG_WINDOW)) {
                assertServedWhole(restarted.url(), blobs); // first: a torn blob would be served here
                long[] report = rehashed(temp.resolve("serve2.log"));
                assertEquals(3, report[0]);
                assertEquals(2, report[3], "the two torn blobs removed");
                assertEquals(2, upstream.count("GET " + path(blobs.get(0))), "the truncated blob fetched again");
                assertEquals(2, upstream.count("GET " + path(blobs.get(1))), "the zero-tailed blob fetched again");
                assertEquals(1, upstream.count("GET " + path(blobs.get(2))), "the whole one kept");
                assertArrayEquals(blobs.get(1), Files.readAllBytes(blobFile(data, blobs.get(1))), "cached again, whole");
            }
        }
    }

    @Test
    void powerLoss_aFullWindowOwed_recoveryTimeReported() throws Exception {
        Path data = temp.resolve("proxy");
        // Just under the 256 MiB that start a sync without waiting for the interval.
        List<byte[]> blobs = randomBlobs(3, 80 << 20, 285);
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            for (byte[] blob : blobs) {
                upstream.route("GET " + path(blob), FaultyUpstream.trickle(blob, 1 << 20, 0, Long.MAX_VALUE));
            }
            int port = Loopback.freePort();
            ProxyProcess proxy = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve1.log"), LONG_WINDOW);
            CompletableFuture.allOf(blobs.stream().map(blob -> pull(proxy.url(), blob)).toArray(CompletableFuture[]::new)).join();
            Await.until(() -> committedMarkers(data) == blobs.size(), Duration.ofSeconds(60), "240 MiB committed, owed");
            proxy.kill();
            try (RandomAccessFile file = new RandomAccessFile(blobFile(data, blobs.get(2)).toFile(), "rw")) {
                file.setLength(file.length() - 1);
            }

            long started = System.nanoTime();
            try (ProxyProcess restarted = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve2.log"), LONG_WINDOW)) {
                long readyMillis = (System.nanoTime() - started) / 1_000_000;
                long[] report = rehashed(temp.resolve("serve2.log"));
                System.out.println("recovery of a full window (" + report[1] / (1 << 20) + " MiB in " + report[0] + " blobs): re-hashed in "
                        + report[2] + " ms, /v2/ answered " + readyMillis + " ms after the start");
                assertEquals(3, report[0]);
                assertEquals(1, report[3]);
                assertServedWhole(restarted.url(), blobs);
                assertEquals(2, upstream.count("GET " + path(blobs.get(2))));
            }
        }
    }

    // ---------------------------------------------------------------- the default window, a clean stop

    @Test
    void syncInterval_default_commitsSyncedWithinTheWindow_cleanStopLeavesNothingToRehash() throws Exception {
        Path data = temp.resolve("proxy");
        List<byte[]> blobs = randomBlobs(2, 1 << 20, 286);
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            for (byte[] blob : blobs) {
                upstream.route("GET " + path(blob), FaultyUpstream.trickle(blob, 1 << 20, 0, Long.MAX_VALUE));
            }
            int port = Loopback.freePort();
            try (ProxyProcess proxy = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve1.log"))) {
                pull(proxy.url(), blobs.get(0)).join();
                Await.until(() -> Files.exists(blobFile(data, blobs.get(0))), Duration.ofSeconds(30), "committed");
                Await.until(() -> markers(data) == 0, Duration.ofSeconds(30), "synced by the background step (5 s window)");
                pull(proxy.url(), blobs.get(1)).join();
                Await.until(() -> markers(data) == 1, Duration.ofSeconds(30), "the second commit owed");
            } // SIGTERM: a clean stop syncs what is owed
            assertEquals(0, markers(data), "a clean stop settles every commit");
            try (ProxyProcess restarted = ProxyProcess.serve(data, upstream.url(), port, temp.resolve("serve2.log"))) {
                assertTrue(!REHASHED.matcher(Files.readString(temp.resolve("serve2.log"))).find(), "nothing re-hashed after a clean stop");
                assertServedWhole(restarted.url(), blobs);
            }
        }
    }
}
