package dev.pullthrough.server;

import io.netty.channel.Channel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The connections of every listener, for a graceful stop (issue 30): once {@link #startDraining}
 * each new response says {@code Connection: close} and its connection closes after it; once
 * {@link #closeIdle} connections close as soon as they have no request open. Counts the requests
 * whose response has not been written yet.
 */
final class ConnectionDrain {
    private final ChannelGroup connections = new DefaultChannelGroup("connections", GlobalEventExecutor.INSTANCE);
    private final AtomicInteger openRequests = new AtomicInteger();
    private volatile boolean draining;
    private volatile boolean closingIdle;

    /** A new connection: tracked until it closes, its requests and responses seen by its own handler. */
    DrainingConnection track(Channel channel) {
        connections.add(channel);
        return new DrainingConnection(this);
    }

    void startDraining() {
        draining = true;
    }

    boolean draining() {
        return draining;
    }

    boolean closingIdle() {
        return closingIdle;
    }

    /** Closes every connection without a request open now; the others close after their response. Returns how many were idle. */
    int closeIdle() {
        closingIdle = true;
        List<Future<Boolean>> closing = new ArrayList<>();
        for (Channel channel : connections) {
            DrainingConnection connection = channel.pipeline().get(DrainingConnection.class);
            if (connection != null) {
                closing.add(connection.closeIfIdle(channel));
            }
        }
        int idle = 0;
        for (Future<Boolean> closed : closing) {
            // A loop that is gone closed its connections already.
            if (closed.awaitUninterruptibly(1, TimeUnit.SECONDS) && closed.isSuccess() && closed.getNow()) {
                idle++;
            }
        }
        return idle;
    }

    /** Requests read whose response has not been written yet, over every connection. */
    int openRequests() {
        return openRequests.get();
    }

    void opened() {
        openRequests.incrementAndGet();
    }

    void answered(int requests) {
        openRequests.addAndGet(-requests);
    }

    /** Connections still open. */
    int connections() {
        return connections.size();
    }

    /** Closes what is left (after the drain, or when it is cut short) and waits for it. */
    void closeAll() {
        connections.close().awaitUninterruptibly();
    }
}
