package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.testing.MovableClock;
import dev.pullthrough.upstream.UpstreamCheck;
import dev.pullthrough.upstream.UpstreamChecks;
import dev.pullthrough.upstream.UpstreamClient;
import dev.pullthrough.upstream.UpstreamProbe;
import dev.pullthrough.upstream.auth.TokenCache;
import dev.pullthrough.upstream.http.ClientLoops;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The background upstream checks (issue 27), in-process with a clock the test moves: the first run
 * at the first tick, the next only once the interval passed since the last ended, never two at once;
 * name lookups run on the executor given for them, never on an event loop.
 */
class UpstreamCheckScheduleTest {
    private static final Duration INTERVAL = Duration.ofMinutes(5);

    @Test
    void runIfDue_firstAtOnce_thenOnlyAfterTheInterval_neverTwoAtOnce_lookupsOnTheResolver() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        List<String> lookupThreads = new CopyOnWriteArrayList<>();
        ExecutorService dns = Executors.newCachedThreadPool(r -> new Thread(r, "test-dns"));
        try (FaultyUpstream upstream = new FaultyUpstream(); ClientLoops loops = new ClientLoops()) {
            UpstreamConfig config = ConfigLoader.fromYaml("upstreams:\n  - name: local\n    url: http://localhost:"
                    + upstream.url().getPort() + "\n", Map.of()).upstreams().get(0);
            UpstreamClient client = new UpstreamClient(config, UpstreamClient.newHttpClient(config, loops), new TokenCache(), new Metrics());
            MovableClock clock = new MovableClock();
            UpstreamChecks checks = new UpstreamChecks(List.of(new UpstreamProbe(client, task -> dns.execute(() -> {
                lookupThreads.add(Thread.currentThread().getName());
                task.run();
            }), clock)), INTERVAL, clock);

            // ------------------------------------------------ the first run: at the first tick
            assertTrue(checks.runIfDue(), "nothing ran yet: due at once");
            Await.until(() -> checks.nextRun().isPresent(), Duration.ofSeconds(20), "the first run ends");
            UpstreamCheck first = checks.last("local").orElseThrow();
            assertTrue(first.passed(), first.toString());
            assertEquals(1, upstream.count("GET /v2/"));
            assertEquals(List.of("test-dns"), lookupThreads, "the name was looked up on the resolver, once");
            assertEquals(clock.instant().plus(INTERVAL), checks.nextRun().get());

            // ------------------------------------------------ not again before the interval passed
            assertFalse(checks.runIfDue());
            clock.advance(INTERVAL.minusSeconds(1));
            assertFalse(checks.runIfDue(), "a second before it is due");
            assertEquals(1, checks.runs());

            // ------------------------------------------------ due: one run, and none beside it while it lasts
            upstream.route("GET /v2/", exchange -> {
                try {
                    release.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                FaultyUpstream.fixed(200, "application/json", "{}".getBytes(), Map.of()).answer(exchange);
            });
            clock.advance(Duration.ofSeconds(1));
            assertTrue(checks.runIfDue(), "the interval passed");
            Await.until(() -> upstream.count("GET /v2/") == 2, Duration.ofSeconds(20), "the second run asks /v2/");
            clock.advance(INTERVAL.multipliedBy(3));
            assertFalse(checks.runIfDue(), "one run at a time, however late the clock");
            release.countDown();
            Await.until(() -> checks.nextRun().isPresent(), Duration.ofSeconds(20), "the second run ends");
            assertEquals(2, checks.runs());
            assertEquals(2, upstream.count("GET /v2/"), "no request of a run that did not start");
        } finally {
            release.countDown();
            dns.shutdownNow();
        }
    }
}
