package dev.pullthrough.upstream.http;

import dev.pullthrough.config.EgressProxy;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.proxy.HttpProxyHandler;
import io.netty.handler.ssl.SslHandler;
import io.netty.resolver.NoopAddressResolverGroup;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSession;

/**
 * The way to one origin, step by step, as {@code check --upstreams} reports it (issue 27): the name
 * looked up (the egress proxy's when there is one: the proxy resolves the target), the TCP connection
 * (to the proxy, or the target), the tunnel (CONNECT), the TLS handshake. The connection gets the
 * handlers a pooled one gets ({@link NettyHttpClient#addRoute}), so a check that passes took the path
 * pulls take. Each step has its deadline: connectTimeout for the lookup, the connection and the tunnel,
 * responseTimeout for the handshake. The first failing step ends the probe.
 */
final class RouteProbe {
    private final NettyHttpClient client;
    private final ClientLoops loops;
    private final Duration connectTimeout;
    private final Duration responseTimeout;
    private final URI uri;
    private final Optional<EgressProxy> proxy;
    private final boolean https;
    private final String host;
    private final int port;
    private final List<RouteStep> steps = new ArrayList<>();
    private final CompletableFuture<List<RouteStep>> result = new CompletableFuture<>();
    private long stepStarted;

    RouteProbe(NettyHttpClient client, ClientLoops loops, Duration connectTimeout, Duration responseTimeout, URI uri,
               Optional<EgressProxy> proxy) {
        this.client = client;
        this.loops = loops;
        this.connectTimeout = connectTimeout;
        this.responseTimeout = responseTimeout;
        this.uri = uri;
        this.proxy = proxy;
        this.https = "https".equalsIgnoreCase(uri.getScheme());
        this.host = uri.getHost();
        this.port = uri.getPort() >= 0 ? uri.getPort() : https ? 443 : 80;
    }

    CompletableFuture<List<RouteStep>> run(Executor resolver) {
        // The name a connection looks up: the proxy's; the proxy itself resolves the target's.
        String lookedUp = proxy.map(EgressProxy::host).orElse(host);
        stepStarted = System.nanoTime();
        CompletableFuture.supplyAsync(() -> lookUp(lookedUp), resolver)
                .orTimeout(connectTimeout.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((addresses, failure) -> resolved(lookedUp, addresses, failure));
        return result;
    }

    // ---------------------------------------------------------------- the steps, in order

    private void resolved(String lookedUp, InetAddress[] addresses, Throwable failure) {
        if (failure != null) {
            Throwable cause = unwrap(failure);
            fail("dns", cause instanceof TimeoutException
                    ? "no answer for " + lookedUp + " within " + seconds(connectTimeout) + " (connectTimeout)"
                    : "cannot resolve " + lookedUp + (cause instanceof UnknownHostException ? "" : ": " + cause));
            return;
        }
        String whose = proxy.map(p -> "egress proxy " + lookedUp).orElse(lookedUp);
        boolean literal = addresses.length == 1 && addresses[0].getHostAddress().equals(lookedUp);
        pass("dns", whose + (literal ? ": an address, nothing to look up" : " is " + addresses[0].getHostAddress())
                + (addresses.length > 1 ? " (and " + (addresses.length - 1) + " more)" : "")
                + proxy.map(p -> "; the proxy resolves " + host).orElse(""));
        connect(addresses[0]);
    }

    private void connect(InetAddress address) {
        Bootstrap bootstrap = new Bootstrap().group(loops.group).channel(loops.channelType)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        client.addRoute(channel, proxy, https, host, port);
                        channel.pipeline().addLast(new Quiet());
                    }
                });
        ChannelFuture connecting;
        if (proxy.isPresent()) {
            // As a pooled connection: the target's name goes to the proxy unresolved.
            connecting = bootstrap.resolver(NoopAddressResolverGroup.INSTANCE).connect(InetSocketAddress.createUnresolved(host, port));
        } else {
            connecting = bootstrap.connect(new InetSocketAddress(address, port));
        }
        String to = proxy.map(p -> "egress proxy " + p.address()).orElse(host + ":" + port);
        connecting.addListener(done -> guarded("connect", connecting.channel(), () -> {
            if (!done.isSuccess()) {
                Throwable cause = done.cause();
                fail("connect", cause instanceof ConnectTimeoutException
                        ? "no connection to " + to + " within " + seconds(connectTimeout) + " (connectTimeout)"
                        : cause instanceof ConnectException ? to + " refused the connection"
                        : "connecting to " + to + " failed: " + cause.getMessage(), connecting.channel());
                return;
            }
            pass("connect", to + " (" + address.getHostAddress() + ") accepted the connection");
            tunnel(connecting.channel());
        }));
    }

    private void tunnel(Channel channel) {
        if (proxy.isEmpty()) {
            pass("proxy", "none: straight to " + host);
            handshake(channel);
            return;
        }
        HttpProxyHandler tunnel = channel.pipeline().get(HttpProxyHandler.class);
        tunnel.connectFuture().addListener(done -> guarded("proxy", channel, () -> {
            if (done.isSuccess()) {
                pass("proxy", "egress proxy " + proxy.get().address() + " (" + proxy.get().setting() + ") opened a tunnel to "
                        + host + ":" + port);
                handshake(channel);
            } else {
                fail("proxy", client.throughProxy(done.cause(), proxy.get(), uri).getMessage(), channel);
            }
        }));
    }

    private void handshake(Channel channel) {
        if (!https) {
            pass("tls", "none: " + uri.getScheme() + "://");
            channel.close();
            result.complete(List.copyOf(steps));
            return;
        }
        SslHandler tls = channel.pipeline().get(SslHandler.class);
        io.netty.util.concurrent.ScheduledFuture<?> deadline = channel.eventLoop().schedule(() -> {
            fail("tls", "no TLS handshake with " + host + " within " + seconds(responseTimeout) + " (responseTimeout)", channel);
        }, responseTimeout.toMillis(), TimeUnit.MILLISECONDS);
        tls.handshakeFuture().addListener(done -> guarded("tls", channel, () -> {
            deadline.cancel(false);
            if (result.isDone()) {
                return;
            }
            if (done.isSuccess()) {
                pass("tls", describe(tls.engine().getSession()));
                channel.close();
                result.complete(List.copyOf(steps));
            } else {
                fail("tls", handshakeFailure(done.cause()), channel);
            }
        }));
    }

    // ---------------------------------------------------------------- words

    private static String describe(SSLSession session) {
        String certificate = "";
        try {
            Certificate[] chain = session.getPeerCertificates();
            if (chain.length > 0 && chain[0] instanceof X509Certificate x509) {
                certificate = "; certificate " + x509.getSubjectX500Principal().getName() + " issued by "
                        + x509.getIssuerX500Principal().getName() + ", valid until " + x509.getNotAfter().toInstant();
            }
        } catch (SSLException e) {
            // no peer certificates to name: the protocol alone says enough
        }
        return session.getProtocol() + " verified" + certificate;
    }

    private String handshakeFailure(Throwable cause) {
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        for (Throwable t = cause; t != null; t = t.getCause()) {
            String text = String.valueOf(t.getMessage());
            if (text.contains("PKIX") || text.contains("certification path")) {
                // The JDK's words ("PKIX path building failed: sun.security...") say less than this.
                return "the certificate of " + host + " is not signed by a trusted CA (no valid certification path);"
                        + " add its CA with upstreams[].caFile";
            }
            if (text.contains("subject alternative") || text.contains("No name matching")) {
                return "the certificate of " + host + " is not for that name: " + text;
            }
        }
        return "TLS handshake with " + host + " failed: " + message;
    }

    private static String seconds(Duration duration) {
        return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + "s" : duration.toMillis() + "ms";
    }

    // ---------------------------------------------------------------- bookkeeping

    private synchronized void pass(String step, String detail) {
        long now = System.nanoTime();
        steps.add(new RouteStep(step, true, detail, Duration.ofNanos(now - stepStarted)));
        stepStarted = now;
    }

    private void fail(String step, String detail) {
        fail(step, detail, null);
    }

    private synchronized void fail(String step, String detail, Channel channel) {
        if (channel != null) {
            channel.close();
        }
        if (result.isDone()) {
            return;
        }
        steps.add(new RouteStep(step, false, detail, Duration.ofNanos(System.nanoTime() - stepStarted)));
        result.complete(List.copyOf(steps));
    }

    /** Runs a listener's work; a surprise in it fails the step under way rather than leave the probe unfinished. */
    private void guarded(String step, Channel channel, Runnable work) {
        try {
            work.run();
        } catch (RuntimeException e) {
            fail(stepUnderWay(step), "the check itself failed: " + e, channel);
        }
    }

    /** The first route step not yet passed, from {@code from} on (a listener may have moved on to the next). */
    private synchronized String stepUnderWay(String from) {
        List<String> order = List.of("dns", "connect", "proxy", "tls");
        for (String step : order.subList(order.indexOf(from), order.size())) {
            if (steps.stream().noneMatch(s -> s.name().equals(step))) {
                return step;
            }
        }
        return "tls";
    }

    private static InetAddress[] lookUp(String name) {
        try {
            return InetAddress.getAllByName(name); // blocks: runs on the resolver, never on an event loop
        } catch (UnknownHostException e) {
            throw new CompletionException(e);
        }
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }

    /** The last handler: what fails here is reported by the step's future; nothing is left to log. */
    private static final class Quiet extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message) {
            io.netty.util.ReferenceCountUtil.release(message); // the probe sends no request: nothing should come
        }
    }
}
