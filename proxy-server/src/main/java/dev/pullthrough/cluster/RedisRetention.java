package dev.pullthrough.cluster;

import dev.pullthrough.bucket.RetentionPass;
import dev.pullthrough.bucket.RetentionTurns;
import dev.pullthrough.bucket.UseLedger;
import dev.pullthrough.oci.Digest;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.KeyValue;
import io.lettuce.core.Range;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScoredValue;
import io.lettuce.core.ZAddArgs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bucket retention's state in Redis (issue 30): a sorted set of digest by last use in
 * milliseconds ({@code ZADD GT}: a later use wins whichever replica records it first), the lease on
 * the pass, the last pass, and the manifests that the shared tag resolutions ({@link RedisTags}, kept
 * exactly {@code tagTtl + maxStale}) name.
 */
public final class RedisRetention implements UseLedger, RetentionTurns {
    static final String USES = "pullthrough:bucket:uses";
    static final String LEASE = "pullthrough:lease:bucket-retention";
    static final String LAST_PASS = "pullthrough:bucket:retention:last";
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Logger LOG = LoggerFactory.getLogger(RedisRetention.class);

    private final RedisLink redis;
    private final RedisLeases leases;
    private final String self;

    /** {@code self} tells this replica's hold on the pass from another's. */
    public RedisRetention(RedisLink redis, String self) {
        this.redis = redis;
        this.leases = new RedisLeases(redis);
        this.self = self;
    }

    // ---------------------------------------------------------------- uses

    @Override
    public CompletableFuture<Void> record(Map<Digest, Long> usedAtMillis) {
        if (usedAtMillis.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        ScoredValue<String>[] values = scored(usedAtMillis.entrySet().stream()
                .map(use -> ScoredValue.just((double) use.getValue(), use.getKey().toString())).toList());
        return redis.call(r -> r.zadd(USES, ZAddArgs.Builder.gt(), values)).thenApply(added -> null);
    }

    @Override
    public List<Optional<Long>> lastUses(List<Digest> digests) {
        if (digests.isEmpty()) {
            return List.of();
        }
        String[] members = digests.stream().map(Digest::toString).toArray(String[]::new);
        List<Double> scores = await(redis.call(r -> r.zmscore(USES, members)));
        return scores.stream().map(score -> Optional.ofNullable(score).map(Double::longValue)).toList();
    }

    @Override
    public void recordIfAbsent(List<Digest> digests, long atMillis) {
        if (digests.isEmpty()) {
            return;
        }
        ScoredValue<String>[] values = scored(digests.stream().map(d -> ScoredValue.just((double) atMillis, d.toString())).toList());
        await(redis.call(r -> r.zadd(USES, ZAddArgs.Builder.nx(), values)));
    }

    @Override
    public void forget(List<Digest> digests) {
        if (!digests.isEmpty()) {
            String[] members = digests.stream().map(Digest::toString).toArray(String[]::new);
            await(redis.call(r -> r.zrem(USES, members)));
        }
    }

    @Override
    public void forgetBefore(long beforeMillis) {
        await(redis.call(r -> r.zremrangebyscore(USES, Range.create(Double.NEGATIVE_INFINITY, (double) beforeMillis - 1))));
    }

    @SuppressWarnings("unchecked")
    private static ScoredValue<String>[] scored(List<ScoredValue<String>> values) {
        return values.toArray(ScoredValue[]::new);
    }

    // ---------------------------------------------------------------- the pass

    @Override
    public boolean take(Duration ttl) {
        return orFalse(leases.take(LEASE, self, ttl));
    }

    @Override
    public boolean renew(Duration ttl) {
        return orFalse(leases.renew(LEASE, self, ttl));
    }

    @Override
    public void release() {
        orFalse(leases.release(LEASE, self));
    }

    @Override
    public Optional<RetentionPass> lastPass() {
        try {
            return Optional.ofNullable(await(redis.call(r -> r.get(LAST_PASS)))).map(RetentionPass::decode);
        } catch (RuntimeException e) {
            LOG.debug("reading the last retention pass failed: {}", e.toString());
            return Optional.empty();
        }
    }

    @Override
    public void recordPass(RetentionPass pass) {
        await(redis.call(r -> r.set(LAST_PASS, pass.encode())));
    }

    @Override
    public Set<Digest> taggedManifests() {
        Set<Digest> manifests = new HashSet<>();
        ScanArgs tags = ScanArgs.Builder.matches("pullthrough:tag:*").limit(1000);
        KeyScanCursor<String> cursor = await(redis.call(r -> r.scan(tags)));
        while (true) {
            List<String> keys = cursor.getKeys();
            if (!keys.isEmpty()) {
                for (KeyValue<String, String> value : await(redis.call(r -> r.mget(keys.toArray(String[]::new))))) {
                    // DIGEST MEDIATYPE CHECKEDAT, as RedisTags writes it; a key that expired meanwhile has no value.
                    if (value.hasValue()) {
                        try {
                            manifests.add(Digest.parse(value.getValue().split(" ", 2)[0]));
                        } catch (IllegalArgumentException e) {
                            LOG.debug("a tag record names no digest: {}", value.getValue());
                        }
                    }
                }
            }
            if (cursor.isFinished()) {
                return manifests;
            }
            ScanCursor next = cursor;
            cursor = await(redis.call(r -> r.scan(next, tags)));
        }
    }

    private static boolean orFalse(CompletableFuture<Boolean> call) {
        try {
            return call.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static <T> T await(CompletableFuture<T> call) {
        try {
            return call.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("asking Redis for the bucket retention failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Redis did not answer the bucket retention in " + WAIT.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while asking Redis for the bucket retention", e);
        }
    }
}
