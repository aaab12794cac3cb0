package dev.pullthrough.server;

import dev.pullthrough.cluster.PeerApi;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.proxy.ProxyResponse;
import dev.pullthrough.proxy.PullApi;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A connection to the registry port: the pull API, answered off the event loop by {@link PullApi}
 * and written back here, and the admin endpoints too when they share this port.
 */
final class RegistryHandler extends HttpTurns {
    private final PullApi api;
    private final Optional<AdminResponder> admin;
    private final Optional<PeerResponder> peers;
    private final ClientPolicy clients;
    private final AccessLog accessLog;

    RegistryHandler(PullApi api, Optional<AdminResponder> admin, Optional<PeerResponder> peers, Metrics metrics,
                    ClientPolicy clients, AccessLog accessLog) {
        super(metrics);
        this.peers = peers;
        this.accessLog = accessLog;
        this.api = api;
        this.admin = admin;
        this.clients = clients;
    }

    @Override
    protected void answer(ChannelHandlerContext ctx, HttpRequest request) {
        long started = System.nanoTime();
        String method = request.method().name();
        boolean head = request.method().equals(HttpMethod.HEAD);
        String path = pathOf(request.uri());
        if (peers.isPresent() && PeerApi.handles(path)) {
            // Other replicas, on a port shared with the admin endpoints: the shared secret decides, not the address.
            peers.get().answer(ctx, request, path, (done, keepAlive) -> finish(ctx, done, keepAlive));
            return;
        }
        if (!clients.allows(ctx.channel().remoteAddress())) {
            metrics.request("denied", method, 403);
            finish(ctx, ResponseWriter.error(new ApiError(ErrorCode.DENIED, "this client address may not pull from this proxy"),
                    head), false);
            return;
        }
        if (admin.isPresent() && admin.get().handles(path)) {
            // On a port shared with the registry, admin paths need what pulls need.
            answerAdmin(ctx, request, path, admin.get());
            return;
        }
        boolean keepAlive = HttpUtil.isKeepAlive(request) && (head || request.method().equals(HttpMethod.GET));
        List<String> accept = request.headers().getAll(HttpHeaderNames.ACCEPT);
        Optional<String> range = Optional.ofNullable(request.headers().get(HttpHeaderNames.RANGE));
        Optional<String> authorization = Optional.ofNullable(request.headers().get(HttpHeaderNames.AUTHORIZATION));
        String uri = request.uri();
        api.handle(method, uri, accept, range, authorization).whenComplete((reply, failure) -> {
            PullApi.Reply answer = failure == null ? reply : new PullApi.Reply(new ProxyResponse.Error(new ApiError(
                    ErrorCode.UNKNOWN, "the proxy failed serving this request"), Map.of()), Map.of(), "error", "-");
            // Answers from memory complete on this event loop already: write them without another hop.
            if (ctx.executor().inEventLoop()) {
                reply(ctx, answer, head, keepAlive, method, uri, started);
            } else {
                ctx.executor().execute(() -> reply(ctx, answer, head, keepAlive, method, uri, started));
            }
        });
    }

    private void reply(ChannelHandlerContext ctx, PullApi.Reply reply, boolean head, boolean keepAlive,
                       String method, String uri, long started) {
        if (!ctx.channel().isActive()) {
            reply.response().release();
            return;
        }
        int status = reply.response().status();
        metrics.request(reply.route(), method, status);
        boolean keep = keepAlive && !(reply.response() instanceof ProxyResponse.Error && status >= 500);
        Map<String, String> headers = reply.headers();
        if (!keep) {
            // Say so, or a client may send its next request on a connection we are closing.
            headers = new java.util.HashMap<>(headers);
            headers.put("Connection", "close");
        }
        ChannelFuture done = ResponseWriter.write(ctx, reply.response(), head, headers);
        done.addListener(f -> {
            long nanos = System.nanoTime() - started;
            long bytes = head ? 0 : reply.response().bodyBytes();
            ProxyResponse.CacheResult cache = reply.response().cacheResult();
            if (f.isSuccess() && bytes > 0 && cache != ProxyResponse.CacheResult.NOT_APPLICABLE) {
                metrics.bytesServed(cache == ProxyResponse.CacheResult.HIT ? "cache" : "upstream", bytes);
            }
            metrics.requestDuration(reply.route(), nanos);
            accessLog.record(ctx.channel().eventLoop(), clientAddress(ctx), method, uri, status, bytes, nanos / 1_000_000, cache.label(), reply.upstream(),
                    reply.route(), !f.isSuccess());
        });
        finish(ctx, done, keep);
    }

    /** The client's IP address as the access log writes it. */
    static String clientAddress(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress address && address.getAddress() != null
                ? address.getAddress().getHostAddress() : String.valueOf(ctx.channel().remoteAddress());
    }
}
