package dev.pullthrough.upstream.http;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.pool.AbstractChannelPoolHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.proxy.ProxyConnectException;
import io.netty.resolver.NoopAddressResolverGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.GlobalEventExecutor;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Scheduler;
import com.github.benmanes.caffeine.cache.Ticker;
import dev.pullthrough.config.Egress;
import dev.pullthrough.config.EgressProxy;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * HTTP/1.1 to the origins of one upstream (its registry, token realm, blob CDN), on the shared
 * {@link ClientLoops}: a pool of keep-alive connections per origin, TLS with the upstream's trust,
 * and the connect and response deadlines. No thread waits: every call completes a future.
 * Whatever origins an upstream's redirects name, at most {@link #MAX_ORIGINS} pools are kept, and
 * one unused for {@link #IDLE_SECONDS} is closed with its connections (issue 26: a pool per origin
 * kept for ever let a hostile upstream exhaust the heap one redirect at a time). Every origin is
 * reached as the upstream's {@link Egress} says: directly, or through an HTTP proxy with CONNECT
 * (issue 27), the TLS of an https origin then running inside the tunnel.
 */
public final class NettyHttpClient implements AutoCloseable {
    /** Set on a connection once it carried an exchange: a failure on reuse may just be a stale connection. */
    private static final AttributeKey<Boolean> USED = AttributeKey.valueOf("pullthrough.used");
    private static final int MAX_INITIAL_LINE = 8192;
    /** A kept-alive connection unused this long is closed: registries drop theirs about then anyway. */
    private static final int IDLE_SECONDS = 60;
    private static final int MAX_HEADERS = 64 * 1024;
    /**
     * Origins with a pool at once: a registry, its token realm and its blob CDN hosts are a handful;
     * a new origin beyond this closes the least recently used pool (its connections are made again
     * when needed), so the pools cost at most this many times their idle connections.
     */
    static final int MAX_ORIGINS = 32;
    /** Idle connections kept per origin: a burst of parallel layer downloads reuses this many. */
    static final int MAX_IDLE_PER_ORIGIN = 8;
    /**
     * TLS sessions remembered for resumption: the JDK's default (20,480 for a day) lets an upstream
     * redirecting to ever new HTTPS hosts fill the heap with sessions.
     */
    private static final int TLS_SESSIONS = 256;
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
    private final Egress egress;
    /** Every connection open now, pooled or carrying an exchange (a closed one leaves by itself). */
    private final ChannelGroup open = new DefaultChannelGroup("upstream", GlobalEventExecutor.INSTANCE);
    /**
     * Pools by origin. Closing a pool waits for nothing, so eviction runs on whichever thread added
     * or touched a pool (an event loop too), and the size bound holds when that call returns.
     */
    private final Cache<String, OriginPool> pools;

    /** {@code trust}: the CAs TLS servers are checked against (hostnames are verified too). */
    public NettyHttpClient(ClientLoops loops, X509ExtendedTrustManager trust, Duration connectTimeout, Duration responseTimeout)
            throws IOException {
        this(loops, trust, connectTimeout, responseTimeout, Egress.direct());
    }

    /** As above, every origin reached as {@code egress} says (directly, or through its proxy). */
    public NettyHttpClient(ClientLoops loops, X509ExtendedTrustManager trust, Duration connectTimeout, Duration responseTimeout,
                           Egress egress) throws IOException {
        this(loops, trust, connectTimeout, responseTimeout, egress, Ticker.systemTicker());
    }

    /** As above, with the clock pools age by ({@code ticker}, moved by tests). */
    NettyHttpClient(ClientLoops loops, X509ExtendedTrustManager trust, Duration connectTimeout, Duration responseTimeout,
                    Ticker ticker) throws IOException {
        this(loops, trust, connectTimeout, responseTimeout, Egress.direct(), ticker);
    }

    private NettyHttpClient(ClientLoops loops, X509ExtendedTrustManager trust, Duration connectTimeout, Duration responseTimeout,
                            Egress egress, Ticker ticker) throws IOException {
        this.loops = loops;
        this.egress = egress;
        this.connectTimeout = connectTimeout;
        this.responseTimeout = responseTimeout;
        try {
            this.tls = SslContextBuilder.forClient().trustManager(trust).endpointIdentificationAlgorithm("HTTPS")
                    .sessionCacheSize(TLS_SESSIONS).build();
        } catch (SSLException e) {
            throw new IOException("cannot set up TLS: " + e.getMessage(), e);
        }
        this.pools = Caffeine.newBuilder()
                .maximumSize(MAX_ORIGINS)
                .expireAfterAccess(Duration.ofSeconds(IDLE_SECONDS))
                .ticker(ticker)
                .executor(Runnable::run)
                .scheduler(Scheduler.systemScheduler())
                .removalListener((String origin, OriginPool pool, RemovalCause cause) -> {
                    if (pool != null) {
                        pool.close();
                    }
                })
                .build();
    }

    /**
     * Sends a request without a body; completes when the status and headers arrived (within the
     * response timeout), or fails. {@code headers} are name/value pairs, repeated names allowed.
     */
    public CompletableFuture<UpstreamResponse> send(String method, URI uri, List<String[]> headers) {
        return send(method, uri, headers, 1, MAX_IDLE_PER_ORIGIN + 1);
    }

    /**
     * {@code retries}: resends after a reused connection failed (the request may have been sent);
     * {@code stale}: connections that may turn out closed before anything was sent (at most the idle
     * ones of the pool and a fresh one), each skipped at no risk.
     */
    private CompletableFuture<UpstreamResponse> send(String method, URI uri, List<String[]> headers, int retries, int stale) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
            // Anything else (ftp://, file://, a URI without a host) would otherwise be sent as plain HTTP.
            return CompletableFuture.failedFuture(new IOException("only http and https URLs with a host are fetched, not " + uri));
        }
        Optional<EgressProxy> proxy = egress.proxyFor(uri);
        if (proxy.isPresent()) {
            CompletableFuture<UpstreamResponse> proxied = new CompletableFuture<>();
            sendOn(pool(uri, proxy), method, uri, headers, retries, stale).whenComplete((response, failure) -> {
                if (failure == null) {
                    proxied.complete(response);
                } else {
                    proxied.completeExceptionally(throughProxy(failure, proxy.get(), uri));
                }
            });
            return proxied;
        }
        return sendOn(pool(uri, proxy), method, uri, headers, retries, stale);
    }

    /**
     * A failure on the way through {@code proxy} said as the proxy's: its refusal of CONNECT (with
     * its status), a refused connection to it, or its silence; other failures are the target's.
     */
    Throwable throughProxy(Throwable failure, EgressProxy proxy, URI uri) {
        String named = "egress proxy " + proxy.address() + " (" + proxy.setting() + ")";
        String target = uri.getHost() + ":" + (uri.getPort() >= 0 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80);
        if (failure instanceof ProxyConnectException refused) {
            String message = String.valueOf(refused.getMessage());
            int status = message.indexOf("status: ");
            if (status >= 0) {
                // HttpProxyHandler's message: "http, basic, <proxy> => <target>, status: 407 Proxy Authentication Required"
                return new EgressProxyFailure(named + " refused CONNECT to " + target + ": " + message.substring(status + 8), failure);
            }
            if (message.endsWith("timeout")) {
                return new EgressProxyFailure(named + " did not open the tunnel to " + target + " within "
                        + connectTimeout.toSeconds() + "s", failure);
            }
            return new EgressProxyFailure(named + " failed on the way to " + target + ": " + message, failure);
        }
        if (failure instanceof ConnectException) {
            return new EgressProxyFailure(named + " refused the connection", failure);
        }
        if (failure instanceof TransportTimeout && failure.getMessage().startsWith("no connection")) {
            return new EgressProxyFailure("no connection to " + named + " within " + connectTimeout.toSeconds() + "s", failure);
        }
        return failure;
    }

    private CompletableFuture<UpstreamResponse> sendOn(OriginPool pool, String method, URI uri, List<String[]> headers,
                                                       int retries, int stale) {
        CompletableFuture<UpstreamResponse> result = new CompletableFuture<>();
        pool.acquireOnItsLoop().addListener(acquired -> {
            if (!acquired.isSuccess()) {
                Throwable cause = acquired.cause();
                result.completeExceptionally(cause instanceof ConnectTimeoutException
                        ? new TransportTimeout("no connection to " + uri.getHost() + " within " + connectTimeout.toSeconds() + "s")
                        : cause);
                return;
            }
            Channel channel = (Channel) acquired.getNow();
            ExchangeHandler handler = channel.pipeline().get(ExchangeHandler.class);
            if (handler == null) {
                // Closed after the pool's health check (an idle connection the upstream dropped just
                // then): its handlers are gone and nothing was sent. Another one; never a caller left waiting.
                pool.release(channel);
                if (stale > 0) {
                    relay(send(method, uri, headers, retries, stale - 1), result);
                } else {
                    result.completeExceptionally(new IOException("the upstream closed the connection before answering"));
                }
                return;
            }
            boolean reused = Boolean.TRUE.equals(channel.attr(USED).getAndSet(Boolean.TRUE));
            Exchange exchange = new Exchange(channel, pool, uri);
            handler.start(exchange);
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
                    relay(send(method, uri, headers, retries - 1, stale), result);
                } else {
                    result.completeExceptionally(failure);
                }
            });
        });
        return result;
    }

    private static void relay(CompletableFuture<UpstreamResponse> from, CompletableFuture<UpstreamResponse> to) {
        from.whenComplete((response, failure) -> {
            if (failure == null) {
                to.complete(response);
            } else {
                to.completeExceptionally(failure);
            }
        });
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

    /** The pool of {@code uri}'s origin on the route {@code proxy} names: the route is part of the key. */
    private OriginPool pool(URI uri, Optional<EgressProxy> proxy) {
        boolean https = "https".equalsIgnoreCase(uri.getScheme());
        int port = uri.getPort() >= 0 ? uri.getPort() : https ? 443 : 80;
        String host = uri.getHost();
        String route = proxy.map(p -> " via " + p.username().map(u -> u + "@").orElse("") + p.address()).orElse("");
        return pools.get((https ? "https://" : "http://") + host.toLowerCase(Locale.ROOT) + ":" + port + route, origin -> {
            Bootstrap bootstrap = new Bootstrap().group(loops.group).channel(loops.channelType)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.ALLOCATOR, loops.buffers)
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(64 * 1024, 256 * 1024, MAX_CHUNK));
            if (proxy.isPresent()) {
                // The proxy resolves the target's name: inside a corporate network only it may know the address.
                bootstrap.resolver(NoopAddressResolverGroup.INSTANCE).remoteAddress(InetSocketAddress.createUnresolved(host, port));
            } else {
                bootstrap.resolver(loops.resolver).remoteAddress(InetSocketAddress.createUnresolved(host, port));
            }
            return new OriginPool(bootstrap, new AbstractChannelPoolHandler() {
                @Override
                public void channelCreated(Channel channel) {
                    open.add(channel);
                    ChannelPipeline pipeline = channel.pipeline();
                    addRoute(channel, proxy, https, host, port);
                    pipeline.addLast(new HttpClientCodec(MAX_INITIAL_LINE, MAX_HEADERS, MAX_CHUNK));
                    pipeline.addLast(new IdleStateHandler(0, 0, IDLE_SECONDS));
                    pipeline.addLast(new ExchangeHandler());
                }
            }, MAX_IDLE_PER_ORIGIN);
        });
    }

    /**
     * The way to an origin, the same for pooled connections and {@link RouteProbe}'s: the tunnel
     * through {@code proxy} when there is one, then TLS with this upstream's trust for https.
     */
    void addRoute(Channel channel, Optional<EgressProxy> proxy, boolean https, String host, int port) {
        proxy.ifPresent(p -> channel.pipeline().addLast(tunnel(p)));
        if (https) {
            channel.pipeline().addLast(tls.newHandler(channel.alloc(), host, port));
        }
    }

    /**
     * {@code check --upstreams} (issue 27): resolves, connects, opens the tunnel and completes the TLS
     * handshake to {@code uri}'s origin the way a pull's connection does, each step timed and said in
     * words; name lookups run on {@code resolver}, never on an event loop. Completes, never fails.
     */
    public CompletableFuture<List<RouteStep>> probeRoute(URI uri, java.util.concurrent.Executor resolver) {
        return new RouteProbe(this, loops, connectTimeout, responseTimeout, uri, egress.proxyFor(uri)).run(resolver);
    }

    /**
     * CONNECT through {@code proxy}, for plain http targets too (simpler than absolute-form, and the
     * proxy's refusal then never looks like the target's answer); requests wait until the tunnel is up.
     */
    private HttpProxyHandler tunnel(EgressProxy proxy) {
        InetSocketAddress address = new InetSocketAddress(proxy.host(), proxy.port());
        HttpProxyHandler handler = proxy.username().isPresent()
                ? new HttpProxyHandler(address, proxy.username().get(), proxy.password().orElse(""))
                : new HttpProxyHandler(address);
        handler.setConnectTimeoutMillis(connectTimeout.toMillis());
        return handler;
    }

    /** Origins with a pool now (at most {@link #MAX_ORIGINS}). */
    public long originPools() {
        pools.cleanUp();
        return pools.estimatedSize();
    }

    /** Connections open now, idle or busy. */
    public long openConnections() {
        return open.size();
    }

    @Override
    public void close() {
        pools.invalidateAll();
        pools.cleanUp();
        open.close();
    }
}
