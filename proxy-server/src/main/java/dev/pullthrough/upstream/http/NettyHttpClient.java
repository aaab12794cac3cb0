package dev.pullthrough.upstream.http;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.pool.AbstractChannelPoolHandler;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.ChannelPool;
import io.netty.channel.pool.SimpleChannelPool;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * HTTP/1.1 to the origins of one upstream (its registry, token realm, blob CDN), on the shared
 * {@link ClientLoops}: a pool of keep-alive connections per origin, TLS with the upstream's trust,
 * and the connect and response deadlines. No thread waits: every call completes a future.
 */
public final class NettyHttpClient implements AutoCloseable {
    /** Set on a connection once it carried an exchange: a failure on reuse may just be a stale connection. */
    private static final AttributeKey<Boolean> USED = AttributeKey.valueOf("pullthrough.used");
    private static final int MAX_INITIAL_LINE = 8192;
    /** A kept-alive connection unused this long is closed: registries drop theirs about then anyway. */
    private static final int IDLE_SECONDS = 60;
    private static final int MAX_HEADERS = 64 * 1024;
    /**
     * Socket reads of up to 1 MiB, passed on as chunks of up to that: each chunk costs a hand-over to
     * the writer thread and back, so 64 KiB chunks (Netty's default) cost CPU a 2-core machine does not
     * have at wire speed.
     */
    private static final int MAX_CHUNK = 1 << 20;

    private final ClientLoops loops;
    private final SslContext tls;
    private final Duration connectTimeout;
    private final Duration responseTimeout;
    private final Map<String, ChannelPool> pools = new ConcurrentHashMap<>();

    /** {@code trust}: the CAs TLS servers are checked against (hostnames are verified too). */
    public NettyHttpClient(ClientLoops loops, X509ExtendedTrustManager trust, Duration connectTimeout, Duration responseTimeout)
            throws IOException {
        this.loops = loops;
        this.connectTimeout = connectTimeout;
        this.responseTimeout = responseTimeout;
        try {
            this.tls = SslContextBuilder.forClient().trustManager(trust).endpointIdentificationAlgorithm("HTTPS").build();
        } catch (SSLException e) {
            throw new IOException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /**
     * Sends a request without a body; completes when the status and headers arrived (within the
     * response timeout), or fails. {@code headers} are name/value pairs, repeated names allowed.
     */
    public CompletableFuture<UpstreamResponse> send(String method, URI uri, List<String[]> headers) {
        return send(method, uri, headers, 1);
    }

    private CompletableFuture<UpstreamResponse> send(String method, URI uri, List<String[]> headers, int retries) {
        CompletableFuture<UpstreamResponse> result = new CompletableFuture<>();
        ChannelPool pool = pool(uri);
        pool.acquire().addListener(acquired -> {
            if (!acquired.isSuccess()) {
                Throwable cause = acquired.cause();
                result.completeExceptionally(cause instanceof ConnectTimeoutException
                        ? new TransportTimeout("no connection to " + uri.getHost() + " within " + connectTimeout.toSeconds() + "s")
                        : cause);
                return;
            }
            Channel channel = (Channel) acquired.getNow();
            boolean reused = Boolean.TRUE.equals(channel.attr(USED).getAndSet(Boolean.TRUE));
            Exchange exchange = new Exchange(channel, pool, uri);
            channel.pipeline().get(ExchangeHandler.class).start(exchange);
            exchange.awaitHeadWithin(responseTimeout, uri.getHost() + " did not answer within " + responseTimeout.toSeconds() + "s");
            channel.writeAndFlush(request(method, uri, headers)).addListener(written -> {
                if (written.isSuccess()) {
                    channel.read();
                } else {
                    exchange.failed(written.cause());
                }
            });
            exchange.head().whenComplete((response, failure) -> {
                if (failure == null) {
                    result.complete(response);
                } else if (reused && retries > 0 && !(failure instanceof TransportTimeout)) {
                    // A kept-alive connection the upstream had closed meanwhile: try once more on a fresh one.
                    send(method, uri, headers, retries - 1).whenComplete((again, error) -> {
                        if (error == null) {
                            result.complete(again);
                        } else {
                            result.completeExceptionally(error);
                        }
                    });
                } else {
                    result.completeExceptionally(failure);
                }
            });
        });
        return result;
    }

    private static DefaultFullHttpRequest request(String method, URI uri, List<String[]> headers) {
        String target = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
                + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
        DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method), target);
        request.headers().set(HttpHeaderNames.HOST, uri.getPort() < 0 ? uri.getHost() : uri.getHost() + ":" + uri.getPort());
        request.headers().set(HttpHeaderNames.USER_AGENT, "pullthrough");
        for (String[] header : headers) {
            request.headers().add(header[0], header[1]);
        }
        return request;
    }

    private ChannelPool pool(URI uri) {
        boolean https = "https".equalsIgnoreCase(uri.getScheme());
        int port = uri.getPort() >= 0 ? uri.getPort() : https ? 443 : 80;
        String host = uri.getHost();
        return pools.computeIfAbsent((https ? "https://" : "http://") + host + ":" + port, origin -> {
            Bootstrap bootstrap = new Bootstrap().group(loops.group).channel(loops.channelType)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(64 * 1024, 256 * 1024, MAX_CHUNK))
                    .remoteAddress(host, port);
            return new SimpleChannelPool(bootstrap, new AbstractChannelPoolHandler() {
                @Override
                public void channelCreated(Channel channel) {
                    ChannelPipeline pipeline = channel.pipeline();
                    if (https) {
                        pipeline.addLast(tls.newHandler(channel.alloc(), host, port));
                    }
                    pipeline.addLast(new HttpClientCodec(MAX_INITIAL_LINE, MAX_HEADERS, MAX_CHUNK));
                    pipeline.addLast(new IdleStateHandler(0, 0, IDLE_SECONDS));
                    pipeline.addLast(new ExchangeHandler());
                }
            }, ChannelHealthChecker.ACTIVE);
        });
    }

    @Override
    public void close() {
        pools.values().forEach(ChannelPool::close);
    }
}
