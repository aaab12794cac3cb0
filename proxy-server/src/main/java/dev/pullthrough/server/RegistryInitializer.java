package dev.pullthrough.server;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The pipeline of one client connection: the per-client connection limit, the request-header deadline,
 * [TLS], HTTP codec with size limits, its part in a graceful stop, chunked writes, the handler.
 */
final class RegistryInitializer extends ChannelInitializer<SocketChannel> {
    /** Longer request lines get 414, larger header blocks 431. */
    static final int MAX_INITIAL_LINE = 8 * 1024;
    static final int MAX_HEADER_SIZE = 16 * 1024;
    static final int IDLE_SECONDS = 300;

    private final Optional<SslContext> ssl;
    private final Supplier<HttpTurns> handlers;
    private final ConnectionLimit connectionLimit;
    private final Duration headerTimeout;
    private final ConnectionDrain drain;

    RegistryInitializer(Optional<SslContext> ssl, Supplier<HttpTurns> handlers, int connectionsPerClient,
                        Duration headerTimeout, ConnectionDrain drain) {
        this.drain = drain;
        this.ssl = ssl;
        this.handlers = handlers;
        this.connectionLimit = new ConnectionLimit(connectionsPerClient);
        this.headerTimeout = headerTimeout;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ch.pipeline().addLast(connectionLimit);
        HeaderDeadline deadline = new HeaderDeadline(headerTimeout);
        ch.pipeline().addLast(deadline.bytes());
        ssl.ifPresent(context -> ch.pipeline().addLast(context.newHandler(ch.alloc())));
        ch.pipeline().addLast(new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, 8192));
        ch.pipeline().addLast(drain.track(ch));
        ch.pipeline().addLast(deadline.requests());
        // A connection with no read and no completed write for this long is dropped (idle keep-alive
        // connections, clients that stopped reading a blob).
        ch.pipeline().addLast(new IdleStateHandler(0, 0, IDLE_SECONDS));
        ch.pipeline().addLast(new ChunkedWriteHandler());
        ch.pipeline().addLast(handlers.get());
    }
}
