package dev.pullthrough.proxy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * One conversation with the upstream per key (a tag) at a time, without holding a thread: a caller
 * arriving while one runs is queued behind it and runs after, on {@code executor}, when it finds
 * in the cache what the first one just put there. A failure of one does not fail those behind it.
 */
final class SingleFlight {
    private final ConcurrentHashMap<String, CompletableFuture<Void>> tails = new ConcurrentHashMap<>();

    <T> CompletableFuture<T> run(String key, Supplier<CompletableFuture<T>> action, Executor executor) {
        CompletableFuture<Void> mine = new CompletableFuture<>();
        CompletableFuture<Void> before = tails.put(key, mine);
        CompletableFuture<T> result = before == null
                ? start(action)
                : before.thenComposeAsync(ignored -> start(action), executor);
        result.whenComplete((value, failure) -> {
            tails.remove(key, mine);
            mine.complete(null);
        });
        return result;
    }

    private static <T> CompletableFuture<T> start(Supplier<CompletableFuture<T>> action) {
        try {
            return action.get();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }
}
