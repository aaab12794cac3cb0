package dev.pullthrough.server;

import dev.pullthrough.cluster.PeerApi;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.proxy.ProxyResponse;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import java.util.Map;
import java.util.Optional;

/**
 * Requests of the other replicas ({@link PeerApi}) on the admin port: blobs written back as the
 * registry writes them (zero-copy from disk, or following the growing file of a download), and
 * logged like any other request, with route {@code peer} (issue 29).
 */
final class PeerResponder {
    private final PeerApi peers;
    private final Metrics metrics;
    private final AccessLog accessLog;

    PeerResponder(PeerApi peers, Metrics metrics, AccessLog accessLog) {
        this.peers = peers;
        this.metrics = metrics;
        this.accessLog = accessLog;
    }

    /** Answers a peer path off the event loop, writes the answer, then lets {@code answered} go on with the connection. */
    void answer(ChannelHandlerContext ctx, HttpRequest request, String path, Answered answered) {
        long started = System.nanoTime();
        String uri = request.uri();
        boolean keepAlive = HttpUtil.isKeepAlive(request) && request.method().equals(HttpMethod.GET);
        String method = request.method().name();
        peers.answer(method, path, Optional.ofNullable(request.headers().get(HttpHeaderNames.AUTHORIZATION)))
                .exceptionally(failure -> new ProxyResponse.Error(new ApiError(ErrorCode.UNKNOWN,
                        "the proxy failed serving this peer request: " + failure), Map.of()))
                .thenAccept(response -> ctx.executor().execute(() -> {
                    if (!ctx.channel().isActive()) {
                        response.release();
                        return;
                    }
                    metrics.request("peer", method, response.status());
                    boolean keep = keepAlive && response.status() < 400;
                    boolean head = request.method().equals(HttpMethod.HEAD);
                    ChannelFuture done = ResponseWriter.write(ctx, response, head, keep ? Map.of() : Map.of("Connection", "close"));
                    done.addListener(f -> accessLog.record(ctx.channel().eventLoop(), RegistryHandler.clientAddress(ctx), method, uri,
                            response.status(), head ? 0 : response.bodyBytes(), (System.nanoTime() - started) / 1_000_000,
                            response.cacheResult().label(), PeerApi.upstreamOf(path), "peer", !f.isSuccess()));
                    answered.written(done, keep);
                }));
    }

    /** How the connection goes on once the answer is written. */
    interface Answered {
        void written(ChannelFuture done, boolean keepAlive);
    }
}
