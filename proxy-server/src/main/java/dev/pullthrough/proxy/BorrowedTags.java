package dev.pullthrough.proxy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.pullthrough.storage.meta.TagResolution;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;

/**
 * Tag answers borrowed from an upstream's fallback sources while it failed with nothing cached
 * (issue 27), by tag and accept set: kept apart from the upstream's own resolutions, so that they
 * are never revalidated, shared or served stale, and served only within the upstream's tag TTL.
 */
final class BorrowedTags {
    /** A tag's manifest as fallback {@code source} answered it. */
    record Borrowed(TagResolution resolution, String source) {}

    private final Cache<String, Borrowed> answers = Caffeine.newBuilder().maximumSize(10_000).build();
    private final Clock clock;

    BorrowedTags(Clock clock) {
        this.clock = clock;
    }

    /** The borrowed answer for {@code key}, while younger than {@code ttl}. */
    Optional<Borrowed> get(String key, Duration ttl) {
        Borrowed borrowed = answers.getIfPresent(key);
        if (borrowed == null) {
            return Optional.empty();
        }
        if (clock.millis() - borrowed.resolution().checkedAtMillis() >= ttl.toMillis()) {
            answers.invalidate(key);
            return Optional.empty();
        }
        return Optional.of(borrowed);
    }

    void put(String key, Borrowed borrowed) {
        answers.put(key, borrowed);
    }
}
