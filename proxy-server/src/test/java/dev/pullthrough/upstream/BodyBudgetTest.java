package dev.pullthrough.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Issue 26: the bytes of upstream bodies in memory at once are bounded; past the bound requests wait, then are refused. */
class BodyBudgetTest {
    private static final Duration LONG = Duration.ofMinutes(1);

    @Test
    void reserve_withinCapacity_grantedAtOnce_releasedOnClose() {
        BodyBudget budget = new BodyBudget(100);
        BodyBudget.Permit a = budget.reserve(60, LONG).join();
        BodyBudget.Permit b = budget.reserve(40, LONG).join();
        assertEquals(100, budget.used());
        a.close();
        a.close(); // a second close releases nothing more
        assertEquals(40, budget.used());
        b.close();
        assertEquals(0, budget.used());
    }

    @Test
    void reserve_pastCapacity_waitsInOrderUntilReleased() throws Exception {
        BodyBudget budget = new BodyBudget(100);
        BodyBudget.Permit first = budget.reserve(80, LONG).join();
        CompletableFuture<BodyBudget.Permit> big = budget.reserve(50, LONG);
        CompletableFuture<BodyBudget.Permit> small = budget.reserve(10, LONG);
        assertFalse(big.isDone(), "50 more do not fit beside 80");
        assertFalse(small.isDone(), "10 would fit, but 50 came first: no overtaking, or large bodies starve");
        assertEquals(2, budget.waiting());

        first.close();

        BodyBudget.Permit bigPermit = big.get(5, TimeUnit.SECONDS);
        small.get(5, TimeUnit.SECONDS).close();
        assertEquals(50, budget.used());
        bigPermit.close();
        assertEquals(0, budget.used());
        assertEquals(0, budget.waiting());
    }

    @Test
    void reserve_fullForLongerThanPatience_refusedAsExhausted_andTheNextFittingOneGranted() {
        BodyBudget budget = new BodyBudget(100);
        BodyBudget.Permit held = budget.reserve(90, LONG).join();
        CompletableFuture<BodyBudget.Permit> tooBig = budget.reserve(50, Duration.ofMillis(50));
        CompletableFuture<BodyBudget.Permit> fits = budget.reserve(10, LONG);

        ExecutionException e = assertThrows(ExecutionException.class, () -> tooBig.get(10, TimeUnit.SECONDS));
        assertInstanceOf(BodyBudget.Exhausted.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("(100 bytes)"), e.getCause().getMessage());
        // the one that gave up no longer blocks the one behind it
        fits.orTimeout(5, TimeUnit.SECONDS).join().close();
        held.close();
        assertEquals(0, budget.used());
        assertEquals(0, budget.waiting());
    }

    @Test
    void reserve_largerThanTheWholeBudget_refusedAtOnceNamingIt() {
        BodyBudget budget = new BodyBudget(100);
        CompletableFuture<BodyBudget.Permit> refused = budget.reserve(101, LONG);
        ExecutionException e = assertThrows(ExecutionException.class, () -> refused.get(1, TimeUnit.SECONDS));
        assertInstanceOf(BodyBudget.TooLarge.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("101 bytes do not fit the proxy's memory budget for upstream bodies (100 bytes"),
                e.getCause().getMessage());
        assertEquals(0, budget.used());
    }
}
