package dev.pullthrough.cluster;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/** A wait that holds no thread: what polling a lease in Redis waits between looks. */
final class Pause {
    private Pause() {}

    static CompletableFuture<Void> of(Duration duration, ScheduledExecutorService timer) {
        CompletableFuture<Void> pause = new CompletableFuture<>();
        timer.schedule(() -> pause.complete(null), duration.toMillis(), TimeUnit.MILLISECONDS);
        return pause;
    }
}
