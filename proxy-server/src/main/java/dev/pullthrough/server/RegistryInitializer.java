package dev.pullthrough.server;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.IdleStateHandler;
import java.util.Optional;
import java.util.function.Supplier;

/** The pipeline of one client connection: [TLS], HTTP codec with size limits, chunked writes, the handler. */
final class RegistryInitializer extends ChannelInitializer<SocketChannel> {
    /** Longer request lines get 414, larger header blocks 431. */
    static final int MAX_INITIAL_LINE = 8 * 1024;
    static final int MAX_HEADER_SIZE = 16 * 1024;
    static final int IDLE_SECONDS = 300;

    private final Optional<SslContext> ssl;
    private final Supplier<RegistryHandler> handlers;

    RegistryInitializer(Optional<SslContext> ssl, Supplier<RegistryHandler> handlers) {
        this.ssl = ssl;
        this.handlers = handlers;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ssl.ifPresent(context -> ch.pipeline().addLast(context.newHandler(ch.alloc())));
        ch.pipeline().addLast(new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, 8192));
        // A connection with no read and no completed write for this long is dropped (idle keep-alive
        // connections, clients that stopped reading a blob).
        ch.pipeline().addLast(new IdleStateHandler(0, 0, IDLE_SECONDS));
        ch.pipeline().addLast(new ChunkedWriteHandler());
        ch.pipeline().addLast(handlers.get());
    }
}
