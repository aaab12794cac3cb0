package dev.pullthrough.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.RedisServer;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
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
        try (RedisServer server = RedisServer.start(dir);
             RedisLink link = RedisLink.open(server.uri(), Optional.empty(), up -> { })) {
            assertTrue(link.up(), "connected at open");
            RedisLeases leases = new RedisLeases(link);
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
    }

    /** Redis stopped: calls fail at once and the link says so; started again: the link comes back by itself. */
    @Test
    void redisStopped_callsFailFast_restarted_linkReconnects() throws Exception {
        List<Boolean> changes = new CopyOnWriteArrayList<>();
        try (RedisServer server = RedisServer.start(dir);
             RedisLink link = RedisLink.open(server.uri(), Optional.empty(), changes::add)) {
            RedisLeases leases = new RedisLeases(link);
            assertTrue(leases.take("k", "a", Duration.ofSeconds(30)).join());
            server.stop();
            waitFor(() -> !link.up(), "the link notices the stop");
            CompletionException failed = assertThrows(CompletionException.class,
                    () -> leases.take("k2", "a", Duration.ofSeconds(30)).join());
            // Failed fast: refused by the link itself, not by the client after a try or a timeout; told by
            // the failure, not by a clock that a busy machine slows (issue 29).
            assertInstanceOf(RedisLink.RedisUnavailableException.class, failed.getCause(), "failed fast: " + failed);
            server.start();
            waitFor(link::up, "the link reconnects");
            assertTrue(leases.take("k", "b", Duration.ofSeconds(30)).join(), "a restarted Redis without persistence is empty");
            assertEquals(List.of(true, false, true), changes);
        }
    }

    /** A replica started while Redis is down starts at once, degraded, and joins once Redis answers. */
    @Test
    void redisDownAtOpen_openReturnsAtOnce_degraded_joinsWhenRedisStarts() throws Exception {
        List<Boolean> changes = new CopyOnWriteArrayList<>();
        try (RedisServer server = RedisServer.onFreePort(dir)) {
            long started = System.nanoTime();
            try (RedisLink link = RedisLink.open(server.uri(), Optional.empty(), changes::add)) {
                assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(3), "open does not wait for Redis");
                assertFalse(link.up());
                assertEquals(List.of(false), changes);
                server.start();
                waitFor(link::up, "the link connects in the background");
                assertTrue(new RedisLeases(link).take("k", "a", Duration.ofSeconds(30)).join());
                assertEquals(List.of(false, true), changes);
            }
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(20);
        }
    }
}
