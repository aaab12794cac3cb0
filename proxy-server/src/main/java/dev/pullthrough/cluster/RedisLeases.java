package dev.pullthrough.cluster;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Leases in Redis: a key held by one owner for a while ({@code SET NX PX}), renewed while the owner
 * works, released only by that owner, expired when the owner dies. What names the one replica that
 * downloads a blob for the cluster. Every call is asynchronous (Lettuce, on Netty).
 */
public final class RedisLeases implements AutoCloseable {
    /** Renew and release only when the key still names this owner: a lease that expired and was taken stays taken. */
    private static final String RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then "
            + "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
    private static final String RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then "
            + "return redis.call('del', KEYS[1]) else return 0 end";

    private final RedisClient client;
    private final StatefulRedisConnection<String, String> connection;
    private final RedisAsyncCommands<String, String> redis;

    private RedisLeases(RedisClient client, StatefulRedisConnection<String, String> connection) {
        this.client = client;
        this.connection = connection;
        this.redis = connection.async();
    }

    /** Connects to {@code server} ({@code redis://} or {@code rediss://}); fails when it cannot. */
    public static RedisLeases connect(URI server, Optional<String> password) {
        RedisURI uri = RedisURI.create(server);
        password.ifPresent(p -> uri.setAuthentication(p.toCharArray()));
        RedisClient client = RedisClient.create(uri);
        try {
            return new RedisLeases(client, client.connect());
        } catch (RuntimeException e) {
            client.shutdown();
            throw e;
        }
    }

    /** Takes {@code key} for {@code owner} for {@code ttl}; false when another owner holds it. */
    public CompletableFuture<Boolean> take(String key, String owner, Duration ttl) {
        return redis.set(key, owner, SetArgs.Builder.nx().px(ttl.toMillis()))
                .thenApply("OK"::equals).toCompletableFuture();
    }

    /** Who holds {@code key} now, if anyone. */
    public CompletableFuture<Optional<String>> holder(String key) {
        return redis.get(key).thenApply(Optional::ofNullable).toCompletableFuture();
    }

    /** Extends the lease by {@code ttl} from now; false when {@code owner} no longer holds it. */
    public CompletableFuture<Boolean> renew(String key, String owner, Duration ttl) {
        return redis.<Long>eval(RENEW, ScriptOutputType.INTEGER, new String[] {key}, owner, Long.toString(ttl.toMillis()))
                .thenApply(renewed -> renewed == 1L).toCompletableFuture();
    }

    /** Gives the lease up; false when {@code owner} did not hold it (it expired, or another took it). */
    public CompletableFuture<Boolean> release(String key, String owner) {
        return redis.<Long>eval(RELEASE, ScriptOutputType.INTEGER, new String[] {key}, owner)
                .thenApply(released -> released == 1L).toCompletableFuture();
    }

    @Override
    public void close() {
        connection.close();
        client.shutdown();
    }
}
