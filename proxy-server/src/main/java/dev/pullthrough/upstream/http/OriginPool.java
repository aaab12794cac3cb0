package dev.pullthrough.upstream.http;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.ChannelPoolHandler;
import io.netty.channel.pool.SimpleChannelPool;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.ImmediateEventExecutor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The keep-alive connections to one origin (scheme, host, port), at most {@code maxIdle} of them
 * idle. Once closed (its origin was evicted from the client's pools), it keeps no connection: the
 * idle ones are closed at once, and one still carrying an exchange is closed when it comes back.
 * Nothing here waits: closing may happen on an event loop.
 */
final class OriginPool extends SimpleChannelPool {
    private final int maxIdle;
    private final AtomicInteger idle = new AtomicInteger();
    private volatile boolean closed;

    OriginPool(Bootstrap bootstrap, ChannelPoolHandler handler, int maxIdle) {
        super(bootstrap, handler, ChannelHealthChecker.ACTIVE);
        this.maxIdle = maxIdle;
    }

    /**
     * A connection, handed over on its own event loop as soon as it is connected or checked.
     * {@link #acquire()} hands it over on whichever loop the group picks next: there the hand-over could come
     * after a refused tunnel or failed handshake had already closed the connection, which then looked
     * like an idle one the upstream had dropped and was tried again (two CONNECTs for one request).
     */
    Future<Channel> acquireOnItsLoop() {
        return acquire(ImmediateEventExecutor.INSTANCE.newPromise());
    }

    /** Keeps a returned connection unless the pool is closed or holds enough idle ones (the pool then closes it). */
    @Override
    protected boolean offerChannel(Channel channel) {
        if (closed) {
            return false;
        }
        if (idle.incrementAndGet() > maxIdle || !super.offerChannel(channel)) {
            idle.decrementAndGet();
            return false;
        }
        if (closed) {
            closeIdle(); // closed while this one came back: it must not stay open in a pool nobody uses
        }
        return true;
    }

    @Override
    protected Channel pollChannel() {
        Channel channel = super.pollChannel();
        if (channel != null) {
            idle.decrementAndGet();
        }
        return channel;
    }

    /** Closes the idle connections without waiting for them to close (the superclass waits). */
    @Override
    public void close() {
        closed = true;
        closeIdle();
    }

    private void closeIdle() {
        for (Channel channel = pollChannel(); channel != null; channel = pollChannel()) {
            channel.close();
        }
    }

    /** Idle connections held now (for tests and the pool bound's checks). */
    int idleConnections() {
        return idle.get();
    }
}
