package dev.pullthrough.cluster;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.BodySink;
import dev.pullthrough.upstream.BodySource;
import dev.pullthrough.upstream.ForwardingUpstream;
import dev.pullthrough.upstream.Upstream;
import dev.pullthrough.upstream.UpstreamResult;
import io.lettuce.core.RedisException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream as a replica of a cluster sees it: a blob this replica lacks is fetched once for the
 * whole cluster. A per-digest lease in Redis names the replica that fetches it (from the bucket, or
 * the upstream); the others stream the bytes from that replica's peer endpoint while it downloads
 * (and from its disk once committed), each verifying the digest as it would an upstream's answer.
 *
 * <p>The lease is renewed while the download runs; it is released when the download fails, and
 * left to expire after it succeeded (until then the others get the blob from this replica's disk;
 * afterwards from the bucket, which has it by then). A replica that finds the holder unreachable
 * (it died) waits for the lease to expire and takes it over. With Redis unreachable, or no peer able
 * to serve, a replica fetches alone: one more upstream fetch, never a failed pull.
 */
public final class ClusterUpstream extends ForwardingUpstream {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterUpstream.class);

    private final RedisLeases leases;
    private final PeerClient peers;
    private final String self;
    private final Timing timing;
    private final ScheduledExecutorService timer;
    private final Metrics metrics;

    /** How long a lease lives unrenewed, how often it is renewed, how often a waiting replica looks again. */
    record Timing(Duration lease, Duration renewEvery, Duration poll) {
        static final Timing DEFAULT = new Timing(Duration.ofSeconds(10), Duration.ofSeconds(3), Duration.ofMillis(250));
    }

    ClusterUpstream(Upstream upstream, RedisLeases leases, PeerClient peers, String self, Timing timing,
                    ScheduledExecutorService timer, Metrics metrics) {
        super(upstream);
        this.leases = leases;
        this.peers = peers;
        this.self = self;
        this.timing = timing;
        this.timer = timer;
        this.metrics = metrics;
    }

    @Override
    public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
        return coordinated(name, digest, leaseKey(digest), System.nanoTime() + timing.lease().multipliedBy(3).toNanos());
    }

    static String leaseKey(Digest digest) {
        return "pullthrough:lease:blob:" + digest;
    }

    /**
     * Takes the lease and fetches, or streams from its holder; {@code giveUpAt} bounds the waiting for
     * a dead holder's lease (then this replica fetches alone).
     */
    private CompletableFuture<UpstreamResult<BlobBody>> coordinated(RepositoryName name, Digest digest, String key, long giveUpAt) {
        return leases.take(key, self, timing.lease())
                .thenCompose(taken -> taken
                        ? holding(name, digest, key)
                        : leases.holder(key).thenCompose(holder -> holder.isEmpty()
                                ? coordinated(name, digest, key, giveUpAt) // released meanwhile: try again
                                : fromHolder(name, digest, key, holder.get(), giveUpAt)))
                .exceptionallyCompose(failure -> {
                    if (failure instanceof CompletionException && failure.getCause() != null) {
                        failure = failure.getCause();
                    }
                    if (failure instanceof RedisLink.RedisUnavailableException || failure instanceof RedisException) {
                        return alone(name, digest, "Redis unreachable");
                    }
                    return CompletableFuture.failedFuture(failure);
                });
    }

    private CompletableFuture<UpstreamResult<BlobBody>> fromHolder(RepositoryName name, Digest digest, String key,
                                                                   String holder, long giveUpAt) {
        Optional<URI> peer = peerOf(holder);
        if (peer.isEmpty() || holder.equals(self)) {
            return alone(name, digest, "the lease names " + (peer.isEmpty() ? "no peer" : "this replica"));
        }
        if (peer.equals(peerOf(self))) {
            // An earlier process of this replica, killed while it held the lease. Asking it would be asking
            // this process, whose answer waits on this very download (a minute, until the peer request
            // timed out, in RollingRestartTest). It is gone: its lease is given up for it, and taken anew.
            LOG.info("the lease of {} names an earlier process of this replica; taking it over", digest);
            return leases.release(key, holder).thenCompose(released -> coordinated(name, digest, key, giveUpAt));
        }
        return peers.blob(peer.get(), config().name(), name.value(), digest).thenCompose(answer -> {
            if (answer instanceof PeerClient.Streaming streaming) {
                metrics.clusterBlobSource("peer");
                return CompletableFuture.completedFuture(new UpstreamResult.Ok<>(streaming.body()));
            }
            if (answer instanceof PeerClient.NotServed notServed) {
                if (notServed.status() == 401) {
                    LOG.warn("replica {} refused the cluster's secret: is cluster.secretFile the same on every replica?", peer.get());
                }
                // Nothing there for this repository (or it failed): the upstream decides, as for a single node.
                return alone(name, digest, "the holder answered " + notServed.status());
            }
            LOG.info("replica {} fetching {} is unreachable ({}); waiting to take its lease over", peer.get(), digest,
                    ((PeerClient.Unreachable) answer).failure().toString());
            return takeOver(name, digest, key, holder, giveUpAt);
        });
    }

    /** The holder is gone: its lease expires within {@code timing.lease}; the first replica to take it fetches. */
    private CompletableFuture<UpstreamResult<BlobBody>> takeOver(RepositoryName name, Digest digest, String key,
                                                                 String deadHolder, long giveUpAt) {
        if (System.nanoTime() > giveUpAt) {
            return alone(name, digest, "the lease of an unreachable replica did not expire");
        }
        return Pause.of(timing.poll(), timer).thenCompose(waited -> leases.take(key, self, timing.lease()))
                .thenCompose(taken -> taken ? holding(name, digest, key) : leases.holder(key).thenCompose(holder -> {
                    if (holder.isEmpty() || holder.get().equals(deadHolder)) {
                        return takeOver(name, digest, key, deadHolder, giveUpAt);
                    }
                    return fromHolder(name, digest, key, holder.get(), giveUpAt); // another replica took it over
                }));
    }

    /** This replica holds the lease: it fetches (bucket, else upstream), renewing the lease meanwhile. */
    private CompletableFuture<UpstreamResult<BlobBody>> holding(RepositoryName name, Digest digest, String key) {
        metrics.clusterBlobSource("lease");
        Lease lease = new Lease(key);
        return upstream.blob(name, digest).handle((answer, failure) -> {
            if (failure != null || answer instanceof UpstreamResult.Refused<BlobBody>) {
                lease.release();
                if (failure != null) {
                    throw failure instanceof RuntimeException e ? e : new CompletionException(failure);
                }
                return answer;
            }
            BlobBody body = ((UpstreamResult.Ok<BlobBody>) answer).value();
            return new UpstreamResult.Ok<>(new BlobBody(body.size(), lease.watching(body), body.shared()));
        });
    }

    private CompletableFuture<UpstreamResult<BlobBody>> alone(RepositoryName name, Digest digest, String why) {
        LOG.debug("fetching {} without the cluster: {}", digest, why);
        metrics.clusterBlobSource("alone");
        return upstream.blob(name, digest);
    }

    /** A lease value: the holder's advertised peer URL, then a word that tells this process from an earlier one. */
    private static Optional<URI> peerOf(String holder) {
        int space = holder.indexOf(' ');
        try {
            return Optional.of(URI.create(space < 0 ? holder : holder.substring(0, space)));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** A lease this replica holds while its download runs. */
    private final class Lease {
        private final String key;
        private final AtomicBoolean over = new AtomicBoolean();
        private final ScheduledFuture<?> renewal;

        Lease(String key) {
            this.key = key;
            long every = timing.renewEvery().toMillis();
            this.renewal = timer.scheduleWithFixedDelay(this::renew, every, every, TimeUnit.MILLISECONDS);
        }

        private void renew() {
            leases.renew(key, self, timing.lease()).whenComplete((renewed, failure) -> {
                if (failure == null && !renewed && !over.get()) {
                    // Expired (a pause longer than the lease) and maybe taken: this download goes on, the lease is not ours.
                    LOG.warn("lost the lease {} while downloading; another replica may fetch it too", key);
                    renewal.cancel(false);
                }
            });
        }

        /** Succeeded: stop renewing; the lease expires by itself while others read the committed blob here. */
        void done() {
            if (over.compareAndSet(false, true)) {
                renewal.cancel(false);
            }
        }

        /** Failed: release at once, so that a waiting replica takes over without waiting for the expiry. */
        void release() {
            if (over.compareAndSet(false, true)) {
                renewal.cancel(false);
                leases.release(key, self).exceptionally(failure -> false);
            }
        }

        BodySource watching(BlobBody body) {
            return new BodySource() {
                @Override
                public void stream(BodySink sink) {
                    body.stream(new BodySink() {
                        @Override
                        public void onBytes(ByteBuffer bytes, Runnable consumed) {
                            sink.onBytes(bytes, consumed);
                        }

                        @Override
                        public void onEnd() {
                            done();
                            sink.onEnd();
                        }

                        @Override
                        public void onError(Throwable failure) {
                            release();
                            sink.onError(failure);
                        }
                    });
                }

                @Override
                public void cancel(String why) {
                    release();
                    body.cancel(why);
                }
            };
        }
    }
}
