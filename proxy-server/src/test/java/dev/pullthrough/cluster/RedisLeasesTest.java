package dev.pullthrough.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Leases against the real redis-server (Debian's), on a free loopback port. */
class RedisLeasesTest {
    @TempDir
    Path dir;

    @Test
    void oneOwnerAtATime_renewedAndReleasedOnlyByIt_expiredWhenNotRenewed() throws Exception {
        Path binary = Path.of("/usr/bin/redis-server");
        if (!Files.isExecutable(binary)) {
            throw new AssertionError("/usr/bin/redis-server is missing: apt-get install -y redis-server (bash .ci/run does this)");
        }
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        Process server = new ProcessBuilder(binary.toString(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", dir.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!listening(port)) {
                if (!server.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("redis-server did not start: " + Files.readString(dir.resolve("redis.log")));
                }
                Thread.sleep(20);
            }
            try (RedisLeases leases = RedisLeases.connect(URI.create("redis://127.0.0.1:" + port), Optional.empty())) {
                String key = "pullthrough:lease:blob:sha256:abc";
                assertTrue(leases.take(key, "replica-a", Duration.ofSeconds(30)).join());
                assertFalse(leases.take(key, "replica-b", Duration.ofSeconds(30)).join(), "one owner at a time");
                assertEquals(Optional.of("replica-a"), leases.holder(key).join());
                assertFalse(leases.renew(key, "replica-b", Duration.ofSeconds(30)).join());
                assertFalse(leases.release(key, "replica-b").join(), "only the owner releases");
                assertTrue(leases.release(key, "replica-a").join());
                assertTrue(leases.take(key, "replica-b", Duration.ofMillis(200)).join(), "free again");

                // Not renewed: it expires, and another takes it; the late owner can no longer renew it.
                long expires = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (leases.holder(key).join().isPresent()) {
                    assertTrue(System.nanoTime() < expires, "the lease did not expire");
                    Thread.sleep(20);
                }
                assertTrue(leases.take(key, "replica-c", Duration.ofSeconds(30)).join());
                assertFalse(leases.renew(key, "replica-b", Duration.ofSeconds(30)).join());
                assertTrue(leases.renew(key, "replica-c", Duration.ofSeconds(30)).join());
            }
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static boolean listening(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
