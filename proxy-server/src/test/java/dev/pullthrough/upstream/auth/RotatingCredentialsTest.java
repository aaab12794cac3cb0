package dev.pullthrough.upstream.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.pullthrough.testing.MovableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The decisions of rotating credentials (issue 27), in-process with a counting loader and a clock the
 * test moves: a helper's answer is used for its TTL, a burst of refusals costs one load, requests
 * arriving together share one load, a failed load is not kept.
 */
class RotatingCredentialsTest {
    private final MovableClock clock = new MovableClock();
    private final AtomicInteger loads = new AtomicInteger();
    /** What the loader answers next: the secret rotates by changing it. */
    private volatile String secret = "first";
    private volatile boolean failing;

    private final RotatingCredentials.Loader loader = () -> {
        loads.incrementAndGet();
        if (failing) {
            throw new CredentialFailure("credential helper docker-credential-test failed (exit status 1)");
        }
        return new Credentials("AWS", secret);
    };

    private RotatingCredentials helper(Duration ttl) {
        return new RotatingCredentials(loader, Optional.empty(), ttl, clock, Runnable::run);
    }

    private static Credentials now(CompletableFuture<Optional<Credentials>> answer) {
        return answer.join().orElseThrow();
    }

    // ---------------------------------------------------------------- TTL

    @Test
    void current_withinTtl_oneLoadForManyRequests() {
        RotatingCredentials credentials = helper(Duration.ofMinutes(10));
        for (int i = 0; i < 100; i++) {
            assertEquals("first", now(credentials.current()).secret());
            clock.advance(Duration.ofSeconds(5));
        }
        assertEquals(1, loads.get(), "100 requests over 8 min 20 s, within the 10 min TTL");
    }

    @Test
    void current_pastTtl_loadsAgainAndUsesTheNewAnswer() {
        RotatingCredentials credentials = helper(Duration.ofMinutes(10));
        now(credentials.current());
        secret = "second";
        clock.advance(Duration.ofMinutes(10));
        assertEquals("second", now(credentials.current()).secret());
        assertEquals(2, loads.get());
    }

    // ---------------------------------------------------------------- refusals

    @Test
    void afterRefusal_rotatedSecret_oneLoadThenTheNewOne() {
        RotatingCredentials credentials = helper(Duration.ofMinutes(10));
        Credentials old = now(credentials.current());
        secret = "second";
        assertEquals("second", now(credentials.afterRefusal(Optional.of(old))).secret());
        // The other requests of the burst were refused with the old secret too: they take the new one, no load.
        for (int i = 0; i < 100; i++) {
            assertEquals("second", now(credentials.afterRefusal(Optional.of(old))).secret());
            assertEquals("second", now(credentials.current()).secret());
        }
        assertEquals(2, loads.get(), "the start and one load after the refusal");
    }

    @Test
    void afterRefusal_secretWrongAtItsSource_oneLoadPerBurstNotPerRequest() {
        RotatingCredentials credentials = helper(Duration.ofMinutes(10));
        Credentials wrong = now(credentials.current());
        for (int i = 0; i < 100; i++) {
            wrong = now(credentials.afterRefusal(Optional.of(wrong)));
            clock.advance(Duration.ofMillis(100));
        }
        assertEquals(2, loads.get(), "100 refusals within 10 s: one load after the first");
        clock.advance(RotatingCredentials.BURST);
        now(credentials.afterRefusal(Optional.of(wrong)));
        assertEquals(3, loads.get(), "a refusal after the burst window asks again");
    }

    @Test
    void afterRefusal_newBurstAfterTheFreshAnswerWorked_loadsAgainAtOnce() {
        RotatingCredentials credentials = helper(Duration.ofMinutes(10));
        Credentials first = now(credentials.current());
        secret = "second";
        Credentials second = now(credentials.afterRefusal(Optional.of(first)));
        credentials.accepted(second); // the upstream took it: that burst is over
        clock.advance(Duration.ofSeconds(1));
        secret = "third";
        assertEquals("third", now(credentials.afterRefusal(Optional.of(second))).secret(),
                "rotated again within the burst window, after a success: asked again");
        assertEquals(3, loads.get());
    }

    // ---------------------------------------------------------------- single flight

    @Test
    void current_manyRequestsAtOnce_shareOneLoad() {
        ConcurrentLinkedQueue<Runnable> held = new ConcurrentLinkedQueue<>();
        RotatingCredentials credentials = new RotatingCredentials(loader, Optional.empty(), Duration.ofMinutes(10), clock, held::add);
        List<CompletableFuture<Optional<Credentials>>> answers = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            answers.add(credentials.current());
            answers.add(credentials.afterRefusal(Optional.empty()));
        }
        assertEquals(1, held.size(), "one load queued for 100 requests");
        held.poll().run();
        answers.forEach(answer -> assertEquals("first", now(answer).secret()));
        assertEquals(1, loads.get());
    }

    // ---------------------------------------------------------------- failures

    @Test
    void current_loadFails_failureReachesCallerThenLoadsAgainAfterTheHold() {
        RotatingCredentials credentials = helper(Duration.ofMinutes(10));
        failing = true;
        CompletionException failure = assertThrows(CompletionException.class, () -> credentials.current().join());
        assertInstanceOf(CredentialFailure.class, failure.getCause());
        failing = false;
        clock.advance(RotatingCredentials.FAILURE_HOLD);
        assertEquals("first", now(credentials.current()).secret());
        assertEquals(2, loads.get());
    }

    @Test
    void current_helperKeepsFailing_oneRunPerHoldNotPerRequest() {
        RotatingCredentials credentials = helper(Duration.ofMinutes(10));
        failing = true;
        for (int i = 0; i < 50; i++) {
            assertThrows(CompletionException.class, () -> credentials.current().join());
            assertThrows(CompletionException.class, () -> credentials.afterRefusal(Optional.empty()).join());
            clock.advance(Duration.ofMillis(50));
        }
        assertEquals(1, loads.get(), "100 requests within 2.5 s share the one failure");
        clock.advance(RotatingCredentials.FAILURE_HOLD);
        failing = false;
        assertEquals("first", now(credentials.current()).secret());
        assertEquals(2, loads.get());
    }

    @Test
    void current_initialAnswer_usedWithoutALoad() {
        RotatingCredentials file = new RotatingCredentials(loader, Optional.of(new Credentials("puller", "at-start")),
                Duration.ofDays(365), clock, Runnable::run);
        assertEquals("at-start", now(file.current()).secret());
        assertEquals(0, loads.get());
        assertEquals("first", now(file.afterRefusal(Optional.of(new Credentials("puller", "at-start")))).secret(),
                "a refusal reads the file again at once");
        assertEquals(1, loads.get());
    }
}
