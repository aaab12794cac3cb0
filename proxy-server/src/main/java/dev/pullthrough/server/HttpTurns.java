package dev.pullthrough.server;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.ArrayDeque;
import org.slf4j.LoggerFactory;

/**
 * One connection's requests, one at a time: a request that arrives while another is answered (a
 * pipelining client) waits its turn, and reading pauses until it had it. Reading is not paused for
 * every request (that costs two epoll_ctl calls per request): clients that wait for each answer
 * never need it. Undecodable requests are answered and the connection closed; the server stays up.
 * Subclasses answer a decoded request and call {@link #finish} when the answer is written.
 */
abstract class HttpTurns extends SimpleChannelInboundHandler<HttpObject> {
    protected final Metrics metrics;
    /** Whether a request of this connection is being answered; only touched on its event loop. */
    private boolean busy;
    /** Requests that arrived while another was answered (pipelined), in order. */
    private final ArrayDeque<HttpRequest> waiting = new ArrayDeque<>();

    HttpTurns(Metrics metrics) {
        this.metrics = metrics;
    }

    /** Answers a decoded request; must end in {@link #finish}. */
    protected abstract void answer(ChannelHandlerContext ctx, HttpRequest request);

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
        if (!(msg instanceof HttpRequest request)) {
            return; // request bodies are not read: the pull API has none, pushes are refused
        }
        if (busy) {
            waiting.add(request);
            ctx.channel().config().setAutoRead(false);
            return;
        }
        take(ctx, request);
    }

    private void take(ChannelHandlerContext ctx, HttpRequest request) {
        busy = true;
        if (request.decoderResult().isFailure()) {
            rejectUndecodable(ctx, request.decoderResult().cause());
            return;
        }
        answer(ctx, request);
    }

    /** Keep-alive: answer the next request once this response is out; otherwise close. */
    protected final void finish(ChannelHandlerContext ctx, ChannelFuture done, boolean keepAlive) {
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
                take(ctx, next);
            } else if (!f.channel().config().isAutoRead()) {
                f.channel().config().setAutoRead(true);
            }
        });
    }

    /** Writes a complete response and ends the turn. */
    protected final void finish(ChannelHandlerContext ctx, FullHttpResponse out, boolean keepAlive) {
        finish(ctx, ctx.writeAndFlush(closeIf(!keepAlive, out)), keepAlive);
    }

    /** Answers an admin path off the event loop, then writes the answer and ends the turn. */
    protected final void answerAdmin(ChannelHandlerContext ctx, HttpRequest request, String path, AdminResponder admin) {
        boolean keepAlive = AdminResponder.keepAlive(request, HttpUtil.isKeepAlive(request));
        admin.answer(request, path, ctx.channel().remoteAddress(), () -> !ctx.channel().isActive())
                .thenAccept(out -> ctx.executor().execute(() -> finish(ctx, out, keepAlive && HttpUtil.isKeepAlive(out))));
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

    protected static FullHttpResponse closeIf(boolean closing, FullHttpResponse out) {
        if (closing) {
            out.headers().set(HttpHeaderNames.CONNECTION, "close");
        }
        return out;
    }

    protected static String pathOf(String uri) {
        int q = uri.indexOf('?');
        return q < 0 ? uri : uri.substring(0, q);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
        if (event instanceof IdleStateEvent) {
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LoggerFactory.getLogger(getClass()).debug("connection error: {}", cause.toString());
        ctx.close();
    }
}
