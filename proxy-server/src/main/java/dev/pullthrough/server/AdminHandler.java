package dev.pullthrough.server;

import dev.pullthrough.cluster.PeerApi;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;

/** A connection to the admin port of its own: the admin endpoints, the peer endpoint, and 404 for every other path. */
final class AdminHandler extends HttpTurns {
    private final AdminResponder admin;
    private final PeerResponder peers;

    AdminHandler(AdminResponder admin, PeerResponder peers, Metrics metrics) {
        super(metrics);
        this.admin = admin;
        this.peers = peers;
    }

    @Override
    protected void answer(ChannelHandlerContext ctx, HttpRequest request) {
        String path = pathOf(request.uri());
        if (PeerApi.handles(path)) {
            peers.answer(ctx, request, path, (done, keepAlive) -> finish(ctx, done, keepAlive));
            return;
        }
        if (!admin.handles(path)) {
            boolean keepAlive = AdminResponder.keepAlive(request, HttpUtil.isKeepAlive(request));
            FullHttpResponse out = ResponseWriter.error(new ApiError(ErrorCode.NOT_FOUND,
                    "the admin port serves /metrics, /healthz and /readyz"), request.method().equals(HttpMethod.HEAD));
            finish(ctx, out, keepAlive);
            return;
        }
        answerAdmin(ctx, request, path, admin);
    }
}
