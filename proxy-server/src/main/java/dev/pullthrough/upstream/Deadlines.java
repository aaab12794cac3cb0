package dev.pullthrough.upstream;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Bounds an exchange in time: past its deadline it fails with {@link Exceeded} and the exchange is cancelled. */
final class Deadlines {
    /** A deadline passed; the message says what was being waited for. */
    static final class Exceeded extends RuntimeException {
        Exceeded(String message) {
            super(message, null, false, false);
        }
    }

    private Deadlines() {}

    static <T> CompletableFuture<T> within(CompletableFuture<T> exchange, Duration deadline, String message) {
        CompletableFuture<T> bounded = new CompletableFuture<>();
        exchange.whenComplete((value, failure) -> {
            if (failure == null) {
                bounded.complete(value);
            } else {
                bounded.completeExceptionally(failure);
            }
        });
        CompletableFuture.delayedExecutor(deadline.toMillis(), TimeUnit.MILLISECONDS).execute(() -> {
            if (bounded.completeExceptionally(new Exceeded(message))) {
                exchange.cancel(true); // the JDK client aborts the exchange and frees its connection
            }
        });
        return bounded;
    }
}
