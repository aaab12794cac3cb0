package dev.pullthrough.server;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;

/** A connection to the admin port of its own: the admin endpoints, and 404 for every other path. */
final class AdminHandler extends HttpTurns {
    private final AdminResponder admin;

    AdminHandler(AdminResponder admin, Metrics metrics) {
        super(metrics);
        this.admin = admin;
    }

    @Override
    protected void answer(ChannelHandlerContext ctx, HttpRequest request) {
        String path = pathOf(request.uri());
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
