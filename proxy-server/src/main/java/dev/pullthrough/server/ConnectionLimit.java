package dev.pullthrough.server;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * At most so many open connections per client address ({@code server.maxConnectionsPerClient}): one
 * client must not take every file descriptor and leave the proxy unable to answer anyone else.
 * Connections past the limit are closed as they open.
 */
@ChannelHandler.Sharable
final class ConnectionLimit extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionLimit.class);

    private final int perClient;
    private final ConcurrentHashMap<InetAddress, AtomicInteger> open = new ConcurrentHashMap<>();

    ConnectionLimit(int perClient) {
        this.perClient = perClient;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        InetAddress client = addressOf(ctx);
        if (client != null && open.computeIfAbsent(client, a -> new AtomicInteger()).incrementAndGet() > perClient) {
            LOG.warn("{} holds more than {} connections (server.maxConnectionsPerClient); closing the newest", client, perClient);
            ctx.close();
            return;
        }
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        InetAddress client = addressOf(ctx);
        if (client != null) {
            open.computeIfPresent(client, (a, count) -> count.decrementAndGet() <= 0 ? null : count);
        }
        ctx.fireChannelInactive();
    }

    private static InetAddress addressOf(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress
                ? ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress() : null;
    }
}
