package dev.pullthrough.cluster;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.SharedTags;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import io.lettuce.core.KeyValue;
import io.lettuce.core.ScriptOutputType;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tag resolutions in Redis, one string per tag and accept set: {@code DIGEST MEDIATYPE CHECKEDAT}.
 * A newer check overwrites an older one; Redis forgets it once the tag could no longer be served
 * even stale (the upstream's TTL plus maxStale).
 */
final class RedisTags implements SharedTags {
    private static final Logger LOG = LoggerFactory.getLogger(RedisTags.class);
    /** Newer-wins write: a replica with a slower answer never puts an older check over a newer one. */
    private static final String PUT_IF_NEWER = "local old = redis.call('get', KEYS[1]) "
            + "if old then local at = tonumber(string.match(old, '(%d+)$')) "
            + "if at and at > tonumber(ARGV[2]) then return 0 end end "
            + "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3]) return 1";

    /** How long one replica may take asking the upstream about a tag before the others ask themselves. */
    static final Duration LEAD = Duration.ofSeconds(10);
    /** How long a replica waits for another's answer: a slow upstream beats a stuck one. */
    static final Duration WAIT = Duration.ofSeconds(5);
    private static final Duration POLL = Duration.ofMillis(25);

    private final RedisLink redis;
    private final RedisLeases leases;
    private final String self;
    private final ScheduledExecutorService timer;

    RedisTags(RedisLink redis, RedisLeases leases, String self, ScheduledExecutorService timer) {
        this.redis = redis;
        this.leases = leases;
        this.self = self;
        this.timer = timer;
    }

    private static String leaseKey(String tag) {
        return "pullthrough:lease:tag:" + tag;
    }

    @Override
    public CompletableFuture<Boolean> lead(String tag) {
        if (!redis.up()) {
            return CompletableFuture.completedFuture(true);
        }
        String key = leaseKey(tag);
        return leases.take(key, self, LEAD).thenCompose(taken -> taken ? CompletableFuture.completedFuture(true)
                        : awaitRelease(key, System.nanoTime() + WAIT.toNanos()))
                .exceptionally(failure -> true);
    }

    /** Completes false once the lease is gone (its holder is done), true when that takes too long. */
    private CompletableFuture<Boolean> awaitRelease(String key, long giveUpAt) {
        if (System.nanoTime() > giveUpAt) {
            return CompletableFuture.completedFuture(true);
        }
        return Pause.of(POLL, timer).thenCompose(waited -> leases.holder(key))
                .thenCompose(holder -> holder.isEmpty() ? CompletableFuture.completedFuture(false) : awaitRelease(key, giveUpAt));
    }

    @Override
    public void done(String tag) {
        leases.release(leaseKey(tag), self).exceptionally(failure -> false);
    }

    static String key(TagKey tag) {
        return "pullthrough:tag:" + tag.upstream() + '\0' + tag.repository() + '\0' + tag.tag() + '\0' + tag.acceptKey();
    }

    @Override
    public Map<TagKey, TagResolution> get(List<TagKey> keys) {
        if (keys.isEmpty() || !redis.up()) {
            return Map.of();
        }
        String[] names = keys.stream().map(RedisTags::key).toArray(String[]::new);
        try {
            List<KeyValue<String, String>> values = redis.call(r -> r.mget(names))
                    .get(RedisLink.COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            Map<TagKey, TagResolution> found = new HashMap<>();
            for (int i = 0; i < keys.size() && i < values.size(); i++) {
                Optional<TagResolution> resolution = values.get(i).hasValue() ? parse(values.get(i).getValue()) : Optional.empty();
                if (resolution.isPresent()) {
                    found.put(keys.get(i), resolution.get());
                }
            }
            return found;
        } catch (ExecutionException | TimeoutException e) {
            LOG.debug("reading shared tags failed: {}", e.toString());
            return Map.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Map.of();
        }
    }

    @Override
    public void put(TagKey key, TagResolution resolution, Duration keep) {
        if (!redis.up()) {
            return;
        }
        String value = resolution.digest() + " " + resolution.mediaType() + " " + resolution.checkedAtMillis();
        redis.call(r -> r.<Long>eval(PUT_IF_NEWER, ScriptOutputType.INTEGER, new String[] {key(key)}, value,
                        Long.toString(resolution.checkedAtMillis()), Long.toString(Math.max(1, keep.toMillis()))))
                .exceptionally(failure -> {
                    LOG.debug("sharing a tag resolution failed: {}", failure.toString());
                    return 0L;
                });
    }

    /** A stored value, or nothing when it is not one of ours (never trusted further than its digest is checked). */
    private static Optional<TagResolution> parse(String value) {
        String[] parts = value.split(" ");
        if (parts.length != 3) {
            return Optional.empty();
        }
        try {
            return Optional.of(new TagResolution(Digest.parse(parts[0]), parts[1], Long.parseLong(parts[2])));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}
