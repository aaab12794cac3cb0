package dev.pullthrough.cluster;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Leases in Redis: a key held by one owner for a while ({@code SET NX PX}), renewed while the owner
 * works, released only by that owner, expired when the owner dies. What names the one replica that
 * downloads a blob for the cluster. Every call is asynchronous and fails at once while Redis is
 * unreachable ({@link RedisLink}).
 */
public final class RedisLeases {
    /** Renew and release only when the key still names this owner: a lease that expired and was taken stays taken. */
    private static final String RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then "
            + "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
    private static final String RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then "
            + "return redis.call('del', KEYS[1]) else return 0 end";

    private final RedisLink redis;

    public RedisLeases(RedisLink redis) {
        this.redis = redis;
    }

    /** Takes {@code key} for {@code owner} for {@code ttl}; false when another owner holds it. */
    public CompletableFuture<Boolean> take(String key, String owner, Duration ttl) {
        return redis.call(r -> r.set(key, owner, SetArgs.Builder.nx().px(ttl.toMillis()))).thenApply("OK"::equals);
    }

    /** Who holds {@code key} now, if anyone. */
    public CompletableFuture<Optional<String>> holder(String key) {
        return redis.call(r -> r.get(key)).thenApply(Optional::ofNullable);
    }

    /** Extends the lease by {@code ttl} from now; false when {@code owner} no longer holds it. */
    public CompletableFuture<Boolean> renew(String key, String owner, Duration ttl) {
        return redis.call(r -> r.<Long>eval(RENEW, ScriptOutputType.INTEGER, new String[] {key}, owner,
                Long.toString(ttl.toMillis()))).thenApply(renewed -> renewed == 1L);
    }

    /** Gives the lease up; false when {@code owner} did not hold it (it expired, or another took it). */
    public CompletableFuture<Boolean> release(String key, String owner) {
        return redis.call(r -> r.<Long>eval(RELEASE, ScriptOutputType.INTEGER, new String[] {key}, owner))
                .thenApply(released -> released == 1L);
    }
}
