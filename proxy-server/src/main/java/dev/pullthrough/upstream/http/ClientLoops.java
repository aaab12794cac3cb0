package dev.pullthrough.upstream.http;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
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
 * the threads their name lookups run on, so that no lookup ever holds a loop; and the pool their
 * read buffers come from.
 */
public final class ClientLoops implements AutoCloseable {
    final EventLoopGroup group;
    /**
     * Where upstream reads land: a pool of direct memory kept for reuse (one arena per loop, no heap
     * arenas, no per-thread caches). A cold blob streams through read buffers of up to a MiB, each
     * held until the disk and the hash are done with it, so a buffer is released on the loop after a
     * hop. Netty's default adaptive allocator gave these sizes one-shot chunks: per 512 MiB blob,
     * 512 MiB of fresh direct memory zeroed, faulted in and returned to the system, which cost about
     * as much CPU as the hash and the file write together (issue 28, perf profile in the note).
     */
    final ByteBufAllocator buffers;
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
        int loops = Runtime.getRuntime().availableProcessors();
        buffers = new PooledByteBufAllocator(true, 0, loops, PooledByteBufAllocator.defaultPageSize(),
                PooledByteBufAllocator.defaultMaxOrder(), 0, 0, false);
        group = new MultiThreadIoEventLoopGroup(loops,
                new DefaultThreadFactory("upstream", true), io);
    }

    /** Bytes of direct memory the pool of upstream read buffers holds (for metrics). */
    public long directMemory() {
        return ((PooledByteBufAllocator) buffers).metric().usedDirectMemory();
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        resolver.close();
        lookups.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
