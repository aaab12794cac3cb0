package dev.pullthrough.upstream.http;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutorGroup;
import java.net.InetAddress;
import java.util.concurrent.TimeUnit;

/**
 * The event loops upstream connections run on: epoll where available, NIO otherwise; one per core;
 * and the threads their name lookups run on, so that no lookup ever holds a loop.
 */
public final class ClientLoops implements AutoCloseable {
    final EventLoopGroup group;
    final Class<? extends SocketChannel> channelType;
    private final EventExecutorGroup lookups = new DefaultEventExecutorGroup(2, new DefaultThreadFactory("upstream-dns", true));
    final OffLoopResolverGroup resolver;

    public ClientLoops() {
        this(InetAddress::getAllByName);
    }

    /** {@code lookup}: how names are looked up (tests give a DNS of their own). */
    ClientLoops(OffLoopResolverGroup.Lookup lookup) {
        resolver = new OffLoopResolverGroup(lookups, lookup);
        IoHandlerFactory io;
        if (Epoll.isAvailable()) {
            io = EpollIoHandler.newFactory();
            channelType = EpollSocketChannel.class;
        } else {
            io = NioIoHandler.newFactory();
            channelType = NioSocketChannel.class;
        }
        group = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                new DefaultThreadFactory("upstream", true), io);
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        resolver.close();
        lookups.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
