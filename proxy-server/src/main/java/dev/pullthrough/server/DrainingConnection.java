package dev.pullthrough.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * One connection's part in a graceful stop, right behind the HTTP codec: counts its requests until
 * their response's last byte is written, and while the proxy drains turns each response into the
 * connection's last ({@code Connection: close}, then closed), whatever the handler decided. State
 * is touched on the connection's event loop only.
 */
final class DrainingConnection extends ChannelDuplexHandler {
    private final ConnectionDrain drain;
    /** Requests read and not yet answered to their last byte (more than one when a client pipelines). */
    private int open;
    /** The response being written said {@code Connection: close}: close once its last byte is out. */
    private boolean lastResponse;

    DrainingConnection(ConnectionDrain drain) {
        this.drain = drain;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest) {
            open++;
            drain.opened();
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof HttpResponse response && drain.draining() && response.status().code() >= 200) {
            // Told before the body, so that the client opens a new connection for its next request
            // (to a replica still routed to) instead of sending it here.
            response.headers().set(HttpHeaderNames.CONNECTION, "close");
            lastResponse = true;
        }
        if (!(msg instanceof LastHttpContent)) {
            super.write(ctx, msg, promise);
            return;
        }
        ChannelPromise written = promise.unvoid();
        super.write(ctx, msg, written);
        written.addListener((ChannelFutureListener) f -> responseEnded(f.channel()));
    }

    private void responseEnded(Channel channel) {
        if (open > 0) {
            open--;
            drain.answered(1);
        }
        if (lastResponse || (drain.closingIdle() && open == 0)) {
            channel.close();
        }
    }

    /** Closes the connection, on its event loop, when no request of it is open; completes with whether it was idle. */
    io.netty.util.concurrent.Future<Boolean> closeIfIdle(Channel channel) {
        if (channel.eventLoop().inEventLoop()) {
            return channel.eventLoop().newSucceededFuture(closeNowIfIdle(channel));
        }
        return channel.eventLoop().submit(() -> closeNowIfIdle(channel));
    }

    private boolean closeNowIfIdle(Channel channel) {
        if (open > 0) {
            return false;
        }
        channel.close();
        return true;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        // Requests that will never be answered (the client went away, or pipelined behind a last response).
        drain.answered(open);
        open = 0;
        super.channelInactive(ctx);
    }
}
