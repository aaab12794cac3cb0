package dev.pullthrough.e2e;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.OptionalSslHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.KeyManagerFactory;

/**
 * An upstream that speaks HTTPS and plain HTTP on the same port of 127.0.0.1 (Netty's
 * {@link OptionalSslHandler}), so that {@code https://127.0.0.1:P} and {@code http://127.0.0.1:P}
 * differ by scheme alone, as {@code https://host} and {@code http://host} do on ports 443 and 80
 * (issue 26, hole 7). Every request is recorded with its scheme and {@code Authorization} header.
 */
final class MixedSchemeUpstream implements AutoCloseable {
    /** One request as received. */
    record Request(boolean tls, String method, String path, String authorization) {}

    /** The answer to one request: status, headers, body. */
    record Answer(int status, Map<String, String> headers, byte[] body) {}

    /** Chooses the answer to a request. */
    interface Routes {
        Answer answer(Request request);
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final Channel listener;

    /** Listens with the certificate and key in {@code pkcs12} (password {@code test}). */
    MixedSchemeUpstream(Path pkcs12, Routes routes) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(pkcs12)) {
            store.load(in, "test".toCharArray());
        }
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, "test".toCharArray());
        SslContext tls = SslContextBuilder.forServer(keys).build();
        listener = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        channel.pipeline().addLast(new OptionalSslHandler(tls), new HttpServerCodec(),
                                new HttpObjectAggregator(1 << 20), new Handler(routes));
                    }
                })
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    List<Request> requests() {
        return requests;
    }

    @Override
    public void close() {
        listener.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).awaitUninterruptibly();
    }

    /** Records a request and writes what the routes answer. */
    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final Routes routes;

        Handler(Routes routes) {
            this.routes = routes;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest http) {
            Request request = new Request(ctx.pipeline().get(SslHandler.class) != null, http.method().name(), http.uri(),
                    http.headers().get(HttpHeaderNames.AUTHORIZATION));
            requests.add(request);
            Answer answer = routes.answer(request);
            boolean head = http.method().name().equals("HEAD");
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(answer.status()),
                    head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(answer.body()));
            answer.headers().forEach(response.headers()::set);
            response.headers().set(HttpHeaderNames.CONTENT_LENGTH, answer.body().length);
            ctx.writeAndFlush(response);
        }
    }
}
