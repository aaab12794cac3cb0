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
    private final PullAnswers api;
    private final Optional<AdminResponder> admin;
    private final Optional<PeerResponder> peers;
    private final ClientPolicy clients;
    private final AccessLog accessLog;

    RegistryHandler(PullAnswers api, Optional<AdminResponder> admin, Optional<PeerResponder> peers, Metrics metrics,
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
        ask(ctx, new Request(method, uri, accept, range, authorization, head, keepAlive, started), false);
    }

    /** One request of the pull API, as this handler asks it (a second time at most). */
    private record Request(String method, String uri, List<String> accept, Optional<String> range,
                           Optional<String> authorization, boolean head, boolean keepAlive, long started) {}

    private void ask(ChannelHandlerContext ctx, Request request, boolean again) {
        api.handle(request.method(), request.uri(), request.accept(), request.range(), request.authorization())
                .whenComplete((reply, failure) -> {
                    PullApi.Reply answer = failure == null ? reply : new PullApi.Reply(new ProxyResponse.Error(new ApiError(
                            ErrorCode.UNKNOWN, "the proxy failed serving this request"), Map.of()), Map.of(), "error", "-");
                    // Answers from memory complete on this event loop already: write them without another hop.
                    if (ctx.executor().inEventLoop()) {
                        reply(ctx, answer, request, again);
                    } else {
                        ctx.executor().execute(() -> reply(ctx, answer, request, again));
                    }
                });
    }

    private void reply(ChannelHandlerContext ctx, PullApi.Reply reply, Request request, boolean askedAgain) {
        if (!ctx.channel().isActive()) {
            reply.response().release();
            return;
        }
        if (!askedAgain && followsAFailedDownload(reply.response())) {
            reply.response().release();
            ask(ctx, request, true);
            return;
        }
        int status = reply.response().status();
        metrics.request(reply.route(), request.method(), status);
        boolean keep = request.keepAlive() && !(reply.response() instanceof ProxyResponse.Error && status >= 500);
        Map<String, String> headers = reply.headers();
        if (!keep) {
            // Say so, or a client may send its next request on a connection we are closing.
            headers = new java.util.HashMap<>(headers);
            headers.put("Connection", "close");
        }
        ChannelFuture done = ResponseWriter.write(ctx, reply.response(), request.head(), headers);
        done.addListener(f -> {
            long nanos = System.nanoTime() - request.started();
            long bytes = request.head() ? 0 : reply.response().bodyBytes();
            ProxyResponse.CacheResult cache = reply.response().cacheResult();
            if (f.isSuccess() && bytes > 0 && cache != ProxyResponse.CacheResult.NOT_APPLICABLE) {
                metrics.bytesServed(cache == ProxyResponse.CacheResult.HIT ? "cache" : "upstream", bytes);
            }
            metrics.requestDuration(reply.route(), nanos);
            accessLog.record(ctx.channel().eventLoop(), clientAddress(ctx), request.method(), request.uri(), status, bytes, nanos / 1_000_000, cache.label(), reply.upstream(),
                    reply.route(), !f.isSuccess());
        });
        finish(ctx, done, keep);
    }

    /**
     * A stream of a download that failed before this client got a byte of it: the download it joined
     * lost its source meanwhile (a peer replica it streamed from was killed, say). Written, it would be
     * a status line and a cut, and a balancer in front counts a replica that closes before its answer's
     * head as down; asked again, the request joins a new download instead (issue 28).
     */
    private static boolean followsAFailedDownload(ProxyResponse response) {
        return response instanceof ProxyResponse.BlobStream stream && stream.blob().failure() != null;
    }

    /** The client's IP address as the access log writes it. */
    static String clientAddress(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress address && address.getAddress() != null
                ? address.getAddress().getHostAddress() : String.valueOf(ctx.channel().remoteAddress());
    }
}
