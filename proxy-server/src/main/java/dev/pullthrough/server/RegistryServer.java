package dev.pullthrough.server;

import dev.pullthrough.admin.AdminRoutes;
import dev.pullthrough.cluster.PeerApi;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.proxy.PullApi;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The Netty listeners: the registry port and, when different, the admin port. Epoll where available, NIO otherwise. */
public final class RegistryServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RegistryServer.class);

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Class<? extends ServerSocketChannel> channelType;
    private final List<Channel> listeners = new ArrayList<>();
    /** One access log for both listeners: the admin port's peer requests are logged as the registry's are. */
    private AccessLog accessLog = new AccessLog(false);
    /** Every connection of both listeners, for a graceful stop (issue 30). */
    private final ConnectionDrain drain = new ConnectionDrain();

    /**
     * Bytes of direct memory the allocator our channels use holds (for metrics): {@code ByteBufAllocator.DEFAULT},
     * which in Netty 4.2 is the adaptive allocator, not {@code PooledByteBufAllocator.DEFAULT} (always 0 here,
     * issue 29). -1 for an allocator that does not count what it holds.
     */
    public static long nettyDirectMemory() {
        return io.netty.buffer.ByteBufAllocator.DEFAULT instanceof io.netty.buffer.ByteBufAllocatorMetricProvider counted
                ? counted.metric().usedDirectMemory() : -1;
    }

    /** Bytes of heap memory the channels' allocator holds; -1 when it does not count. */
    public static long nettyHeapMemory() {
        return io.netty.buffer.ByteBufAllocator.DEFAULT instanceof io.netty.buffer.ByteBufAllocatorMetricProvider counted
                ? counted.metric().usedHeapMemory() : -1;
    }

    public RegistryServer() {
        IoHandlerFactory io;
        if (Epoll.isAvailable()) {
            io = EpollIoHandler.newFactory();
            channelType = EpollServerSocketChannel.class;
        } else {
            io = NioIoHandler.newFactory();
            channelType = NioServerSocketChannel.class;
        }
        boss = new MultiThreadIoEventLoopGroup(1, io);
        workers = new MultiThreadIoEventLoopGroup(eventLoops(), io);
    }

    /**
     * One event loop per core (Netty's default is two): the loops never block, so more of them only
     * contend for the cores. On 2 cores this took the warm-manifest p99 at 64 connections from
     * 8.5 ms to 5.9 ms (wrk on the same machine). {@code -Dio.netty.eventLoopThreads} still wins.
     */
    private static int eventLoops() {
        return Integer.getInteger("io.netty.eventLoopThreads", Runtime.getRuntime().availableProcessors());
    }

    /**
     * Binds the registry API; with {@code admin} present, the admin paths answer on this port too. Called
     * before {@link #bindAdmin}, whose peer requests go to the access log in the format chosen here.
     */
    public InetSocketAddress bindRegistry(String host, int port, TlsContexts.ServerTls tls, PullApi api,
                                          Optional<AdminRoutes> admin, PeerApi peerApi, Metrics metrics, Executor blocking,
                                          ClientPolicy clients, ClientPolicy adminClients, boolean jsonAccessLog,
                                          int connectionsPerClient, Duration headerTimeout) throws InterruptedException {
        AccessLog accessLog = new AccessLog(jsonAccessLog);
        this.accessLog = accessLog;
        Optional<AdminResponder> shared = admin.map(routes -> new AdminResponder(routes, metrics, blocking, adminClients, api::allows, drain));
        Optional<PeerResponder> peers = admin.map(routes -> new PeerResponder(peerApi, metrics, accessLog));
        return bind(host, port, new RegistryInitializer(tls.context,
                () -> new RegistryHandler(api::handle, shared, peers, metrics, clients, accessLog),
                connectionsPerClient, headerTimeout, drain));
    }

    /** Binds an admin-only listener: every non-admin path is 404. */
    public InetSocketAddress bindAdmin(String host, int port, AdminRoutes admin, PeerApi peerApi, Metrics metrics, Executor blocking,
                                       ClientPolicy adminClients, Predicate<Optional<String>> adminCredentials,
                                       int connectionsPerClient, Duration headerTimeout) throws InterruptedException {
        AdminResponder responder = new AdminResponder(admin, metrics, blocking, adminClients, adminCredentials, drain);
        PeerResponder peers = new PeerResponder(peerApi, metrics, accessLog);
        return bind(host, port, new RegistryInitializer(Optional.empty(), () -> new AdminHandler(responder, peers, metrics),
                connectionsPerClient, headerTimeout, drain));
    }

    private InetSocketAddress bind(String host, int port, RegistryInitializer initializer) throws InterruptedException {
        Channel channel = new ServerBootstrap()
                .group(boss, workers)
                .channel(channelType)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(initializer)
                .bind(host, port).sync().channel();
        listeners.add(channel);
        InetSocketAddress address = (InetSocketAddress) channel.localAddress();
        LOG.info("listening on {}:{} ({})", host, address.getPort(), channelType.getSimpleName());
        return address;
    }

    // ---------------------------------------------------------------- graceful stop (issue 30)

    /** From now on /readyz answers 503 (draining) and every response is its connection's last; the listeners still accept. */
    public void startDraining() {
        drain.startDraining();
    }

    /** Closes the listeners, then every connection without a request open; returns how many of those there were. */
    public int stopAccepting() {
        for (Channel channel : listeners) {
            channel.close().awaitUninterruptibly();
        }
        return drain.closeIdle();
    }

    /** Requests on every connection whose response has not been written to its last byte. */
    public int responsesInFlight() {
        return drain.openRequests();
    }

    /** Connections still open (each closes after its response once draining). */
    public int openConnections() {
        return drain.connections();
    }

    /** Stops accepting, lets in-flight responses finish for a short while, then stops the loops. */
    @Override
    public void close() {
        for (Channel channel : listeners) {
            channel.close().awaitUninterruptibly();
        }
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
