package dev.pullthrough.cluster;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.net.SocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection to the cluster's Redis, kept up in the background: connected at start when Redis
 * answers (retried every {@link #RETRY} when it does not), reconnected by Lettuce after a drop. While
 * it is down every command fails at once (never queued, never waited out) and {@link #up} says so:
 * callers then go on alone. State changes are logged once and told to {@code onChange}.
 */
public final class RedisLink implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RedisLink.class);
    static final Duration RETRY = Duration.ofSeconds(1);
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    /** A Redis that answers slower than this is treated as down for that call. */
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(1);

    private final ClientResources resources;
    private final RedisClient client;
    private final RedisURI uri;
    private final Consumer<Boolean> onChange;
    private final ScheduledExecutorService retries = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread thread = new Thread(r, "redis-connect");
        thread.setDaemon(true);
        return thread;
    });
    private volatile StatefulRedisConnection<String, String> connection;
    private volatile boolean up;
    private volatile boolean closed;
    /** The state last logged and told; null before the first. */
    private Boolean reported;

    private RedisLink(URI server, Optional<String> password, Consumer<Boolean> onChange) {
        this.onChange = onChange;
        this.uri = RedisURI.create(server);
        password.ifPresent(p -> uri.setAuthentication(p.toCharArray()));
        uri.setTimeout(COMMAND_TIMEOUT);
        this.resources = ClientResources.builder().reconnectDelay(Delay.constant(RETRY)).build();
        this.client = RedisClient.create(resources, uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT))
                // A Redis that does not accept a connection soon is down: the start does not wait on it.
                .socketOptions(SocketOptions.builder().connectTimeout(CONNECT_TIMEOUT).build())
                .build());
        client.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisConnected(RedisChannelHandler<?, ?> channel, SocketAddress address) {
                if (connection != null) { // the first connection reports itself once connect() returned it
                    changed(true);
                }
            }

            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> channel) {
                changed(false);
            }
        });
    }

    /**
     * Starts connecting to {@code server} ({@code redis://} or {@code rediss://}); returns at once,
     * after the first attempt. {@code onChange} hears {@code true} when Redis is reachable, {@code false} when not.
     */
    public static RedisLink open(URI server, Optional<String> password, Consumer<Boolean> onChange) {
        RedisLink link = new RedisLink(server, password, onChange);
        link.connect();
        if (!link.up) {
            link.changed(false); // said once at start, not at every retry
        }
        return link;
    }

    private void connect() {
        if (closed) {
            return;
        }
        try {
            connection = client.connect(uri);
            changed(true);
        } catch (RuntimeException e) {
            LOG.debug("connecting to Redis failed: {}", e.toString());
            retries.schedule(this::connect, RETRY.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private synchronized void changed(boolean nowUp) {
        if (closed) {
            return;
        }
        up = nowUp && connection != null && connection.isOpen();
        if (reported == null || reported != up) {
            reported = up;
            if (up) {
                LOG.info("cluster: Redis at {}:{} reachable; coordinating with the other replicas", uri.getHost(), uri.getPort());
            } else {
                LOG.warn("cluster: Redis at {}:{} unreachable; this replica goes on alone (fetches for itself) until it is back",
                        uri.getHost(), uri.getPort());
            }
            onChange.accept(up);
        }
    }

    /** Whether Redis is reachable now. */
    public boolean up() {
        return up;
    }

    /**
     * Runs a command; fails at once while Redis is unreachable (or when the command fails or times out).
     */
    <T> CompletableFuture<T> call(Function<RedisAsyncCommands<String, String>, CompletionStage<T>> command) {
        StatefulRedisConnection<String, String> current = connection;
        if (current == null || !up) {
            return CompletableFuture.failedFuture(new RedisUnavailableException("Redis is unreachable"));
        }
        try {
            return command.apply(current.async()).toCompletableFuture();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public void close() {
        closed = true;
        retries.shutdownNow();
        StatefulRedisConnection<String, String> current = connection;
        if (current != null) {
            current.close();
        }
        client.shutdown();
        resources.shutdown();
    }

    /** Redis cannot be asked now. */
    static final class RedisUnavailableException extends RuntimeException {
        RedisUnavailableException(String message) {
            super(message);
        }
    }
}
