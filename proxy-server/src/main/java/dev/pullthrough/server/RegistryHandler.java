package dev.pullthrough.server;

import dev.pullthrough.admin.AdminRoutes;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.proxy.ProxyResponse;
import dev.pullthrough.proxy.PullApi;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Predicate;
import org.slf4j.LoggerFactory;

/**
 * One connection's requests, one at a time: a request that arrives while another is served (a
 * pipelining client) waits its turn, and reading pauses until it had it; the answer is computed off
 * the event loop by {@link PullApi}, and written back here. Reading is not paused for every request
 * (that costs two epoll_ctl calls per request): clients that wait for each answer never need it.
 * Undecodable requests are answered and the connection closed; the server stays up.
 */
final class RegistryHandler extends SimpleChannelInboundHandler<HttpObject> {
    private final PullApi api;
    private final Optional<AdminRoutes> admin;
    private final Metrics metrics;
    private final Executor workers;
    private final ClientPolicy clients;
    private final ClientPolicy adminClients;
    /** Whether a request's credentials may use the admin endpoints: the proxy's pullers (htpasswd), when configured. */
    private final Predicate<Optional<String>> adminCredentials;
    private final AccessLog accessLog;
    /** Whether a request of this connection is being answered; only touched on its event loop. */
    private boolean busy;
    /** Requests that arrived while another was answered (pipelined), in order. */
    private final ArrayDeque<HttpRequest> waiting = new ArrayDeque<>();

    RegistryHandler(PullApi api, Optional<AdminRoutes> admin, Metrics metrics, Executor workers, ClientPolicy clients,
                    ClientPolicy adminClients, Predicate<Optional<String>> adminCredentials, AccessLog accessLog) {
        this.adminClients = adminClients;
        this.adminCredentials = adminCredentials;
        this.accessLog = accessLog;
        this.api = api;
        this.admin = admin;
        this.metrics = metrics;
        this.workers = workers;
        this.clients = clients;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
        if (!(msg instanceof HttpRequest)) {
            return; // request bodies are not read: the pull API has none, pushes are refused
        }
        HttpRequest request = (HttpRequest) msg;
        if (busy) {
            waiting.add(request);
            ctx.channel().config().setAutoRead(false);
            return;
        }
        handle(ctx, request);
    }

    private void handle(ChannelHandlerContext ctx, HttpRequest request) {
        busy = true;
        if (request.decoderResult().isFailure()) {
            rejectUndecodable(ctx, request.decoderResult().cause());
            return;
        }
        long started = System.nanoTime();
        String method = request.method().name();
        boolean head = request.method().equals(HttpMethod.HEAD);
        String path = pathOf(request.uri());
        boolean adminRequest = admin.isPresent() && admin.get().handles(path);
        boolean keepAlive = HttpUtil.isKeepAlive(request)
                && (head || request.method().equals(HttpMethod.GET) || adminRequest && request.method().equals(HttpMethod.POST));

        if (!clients.allows(ctx.channel().remoteAddress())) {
            metrics.request("denied", request.method().name(), 403);
            FullHttpResponse out = ResponseWriter.error(new ApiError(ErrorCode.DENIED,
                    "this client address may not pull from this proxy"), head);
            finish(ctx, ctx.writeAndFlush(closeIf(true, out)), false);
            return;
        }
        if (adminRequest && !AdminRoutes.isHealth(path) && !adminClients.allows(ctx.channel().remoteAddress())) {
            metrics.request("denied", request.method().name(), 403);
            FullHttpResponse out = ResponseWriter.error(new ApiError(ErrorCode.DENIED,
                    "this client address may not use the admin endpoints (admin.allowCidrs)"), head);
            finish(ctx, ctx.writeAndFlush(closeIf(true, out)), false);
            return;
        }
        if (adminRequest) {
            String uri = request.uri();
            Optional<String> credentials = Optional.ofNullable(request.headers().get(HttpHeaderNames.AUTHORIZATION));
            // On a port shared with the registry, admin paths need what pulls need.
            CompletableFuture.supplyAsync(() -> AdminRoutes.isHealth(path) || adminCredentials.test(credentials)
                    ? admin.get().answer(method, uri)
                    : new AdminRoutes.Answer(401, "text/plain", "credentials needed\n".getBytes()), workers)
                    .thenAccept(a -> ctx.executor().execute(() -> {
                        FullHttpResponse out = ResponseWriter.full(HttpResponseStatus.valueOf(a.status()), a.body(), head);
                        out.headers().set(HttpHeaderNames.CONTENT_TYPE, a.contentType());
                        if (a.status() == 401) {
                            out.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, dev.pullthrough.access.PullerAuthenticator.CHALLENGE);
                        }
                        closeIf(!keepAlive, out);
                        finish(ctx, ctx.writeAndFlush(out), keepAlive);
                    }));
            return;
        }
        if (api == null) {
            FullHttpResponse out = ResponseWriter.error(new ApiError(ErrorCode.NOT_FOUND,
                    "the admin port serves /metrics, /healthz and /readyz"), head);
            finish(ctx, ctx.writeAndFlush(closeIf(!keepAlive, out)), keepAlive);
            return;
        }
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
            ResponseWriter.discard(reply.response());
            return;
        }
        int status = statusOf(reply.response());
        metrics.request(reply.route(), method, status);
        boolean keep = keepAlive && !(reply.response() instanceof ProxyResponse.Error && status >= 500);
        Map<String, String> headers = reply.headers();
        if (!keep) {
            // Say so, or a client may send its next request on a connection we are closing.
            headers = new java.util.HashMap<>(headers);
            headers.put("Connection", "close");
        }
        ChannelFuture done = ResponseWriter.write(ctx, reply.response(), head, headers, workers);
        done.addListener(f -> {
            long nanos = System.nanoTime() - started;
            long bytes = AccessLog.bodyBytes(reply.response(), head);
            String cache = AccessLog.cacheStatus(reply.response());
            if (f.isSuccess() && bytes > 0 && !cache.equals("-")) {
                metrics.bytesServed(cache.equals("hit") ? "cache" : "upstream", bytes);
            }
            metrics.requestDuration(reply.route(), nanos);
            accessLog.record(ctx.channel().eventLoop(), method, uri, status, bytes, nanos / 1_000_000, cache, reply.upstream(), !f.isSuccess());
        });
        finish(ctx, done, keep);
    }

    private static int statusOf(ProxyResponse response) {
        if (response instanceof ProxyResponse.BlobFile && ((ProxyResponse.BlobFile) response).range().isPresent()
                || response instanceof ProxyResponse.BlobStream && ((ProxyResponse.BlobStream) response).range().isPresent()) {
            return 206;
        }
        if (response instanceof ProxyResponse.Error) {
            return ((ProxyResponse.Error) response).error().status();
        }
        if (response instanceof ProxyResponse.Json) {
            return ((ProxyResponse.Json) response).status();
        }
        return 200;
    }

    /** Keep-alive: answer the next request once this response is out; otherwise close. */
    private void finish(ChannelHandlerContext ctx, ChannelFuture done, boolean keepAlive) {
        if (!keepAlive) {
            done.addListener(ChannelFutureListener.CLOSE);
            return;
        }
        done.addListener((ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                f.channel().close();
                return;
            }
            busy = false;
            HttpRequest next = waiting.poll();
            if (next != null) {
                handle(ctx, next);
            } else if (!f.channel().config().isAutoRead()) {
                f.channel().config().setAutoRead(true);
            }
        });
    }

    private void rejectUndecodable(ChannelHandlerContext ctx, Throwable cause) {
        ErrorCode code;
        if (cause instanceof TooLongHttpLineException) {
            code = ErrorCode.URI_TOO_LONG;
        } else if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
            code = ErrorCode.HEADERS_TOO_LARGE;
        } else {
            code = ErrorCode.BAD_REQUEST;
        }
        metrics.request("invalid", "unknown", code.status());
        ctx.writeAndFlush(closeIf(true, ResponseWriter.error(ApiError.of(code), false))).addListener(ChannelFutureListener.CLOSE);
    }

    private static FullHttpResponse closeIf(boolean closing, FullHttpResponse out) {
        if (closing) {
            out.headers().set(HttpHeaderNames.CONNECTION, "close");
        }
        return out;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
        if (event instanceof io.netty.handler.timeout.IdleStateEvent) {
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LoggerFactory.getLogger(RegistryHandler.class).debug("connection error: {}", cause.toString());
        ctx.close();
    }

    private static String pathOf(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }
}
