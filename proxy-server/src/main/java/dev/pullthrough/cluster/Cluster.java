package dev.pullthrough.cluster;

import dev.pullthrough.config.ClusterConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.proxy.SharedTags;
import dev.pullthrough.upstream.Upstream;
import dev.pullthrough.upstream.http.ClientLoops;
import java.io.IOException;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * This replica's part in a cluster ({@code cluster}): the Redis link, the blob leases and peer
 * fetches around each upstream, and the shared tag resolutions. While Redis is unreachable the
 * replica is degraded: it works alone, and says so ({@link #degradation}, a metric, the log).
 */
public final class Cluster implements AutoCloseable {
    private final RedisLink redis;
    private final RedisLeases leases;
    private final RedisTags tags;
    private final RedisRetention retention;
    private final PeerClient peers;
    private final String self;
    private final Metrics metrics;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread thread = new Thread(r, "cluster-leases");
        thread.setDaemon(true);
        return thread;
    });

    private Cluster(ClusterConfig config, ClientLoops loops, Metrics metrics) throws IOException {
        this.metrics = metrics;
        // The advertised URL says where this replica's bytes are; the random word tells this process from
        // an earlier one at the same address (whose leases are stale).
        this.self = config.advertise() + " " + UUID.randomUUID();
        this.peers = new PeerClient(loops, config.secret());
        this.redis = RedisLink.open(config.redis(), config.redisPassword(), up -> { });
        this.leases = new RedisLeases(redis);
        this.tags = new RedisTags(redis, leases, self, timer);
        this.retention = new RedisRetention(redis, self);
        metrics.clusterDegraded(() -> !redis.up());
        metrics.clusterSeries();
    }

    /** Joins the cluster: connects to Redis in the background (starting degraded when it does not answer). */
    public static Cluster join(ClusterConfig config, ClientLoops loops, Metrics metrics) throws IOException {
        return new Cluster(config, loops, metrics);
    }

    /** {@code upstream} with its blob fetches coordinated across the cluster. */
    public Upstream coordinated(Upstream upstream) {
        return new ClusterUpstream(upstream, leases, peers, self, ClusterUpstream.Timing.DEFAULT, timer, metrics);
    }

    public SharedTags tags() {
        return tags;
    }

    /** The bucket retention's uses, lease and last pass in Redis (storage.s3.retention, issue 30). */
    public RedisRetention retention() {
        return retention;
    }

    /** This replica, as the cluster names it (its advertised URL and a word for this process). */
    public String self() {
        return self;
    }

    /** Why this replica works alone now, if it does. */
    public Optional<String> degradation() {
        return redis.up() ? Optional.empty()
                : Optional.of("Redis unreachable: this replica fetches for itself until it is back");
    }

    @Override
    public void close() {
        timer.shutdownNow();
        redis.close();
        peers.close();
    }
}
