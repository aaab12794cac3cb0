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
import java.util.concurrent.TimeUnit;

/** The event loops upstream connections run on: epoll where available, NIO otherwise; one per core. */
public final class ClientLoops implements AutoCloseable {
    final EventLoopGroup group;
    final Class<? extends SocketChannel> channelType;

    public ClientLoops() {
        IoHandlerFactory io;
        if (Epoll.isAvailable()) {
            io = EpollIoHandler.newFactory();
            channelType = EpollSocketChannel.class;
        } else {
            io = NioIoHandler.newFactory();
            channelType = NioSocketChannel.class;
        }
        group = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                new io.netty.util.concurrent.DefaultThreadFactory("upstream", true), io);
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
