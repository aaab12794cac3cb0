package dev.pullthrough.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A request's line and headers must arrive within a deadline once their first byte did: a client
 * that sends a header byte every few seconds (slowloris) would otherwise hold its connection for
 * ever, as every byte restarts the idle timer. Two handlers around the HTTP codec share one timer:
 * {@link #bytes()} arms it on raw bytes, {@link #requests()} disarms it when the codec has a request.
 */
final class HeaderDeadline {
    private final Duration limit;
    private ScheduledFuture<?> timer;

    HeaderDeadline(Duration limit) {
        this.limit = limit;
    }

    /** Goes before the codec. */
    ChannelInboundHandlerAdapter bytes() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (timer == null && msg instanceof ByteBuf && ((ByteBuf) msg).isReadable()) {
                    timer = ctx.executor().schedule(() -> {
                        ctx.close();
                    }, limit.toMillis(), TimeUnit.MILLISECONDS);
                }
                ctx.fireChannelRead(msg);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                disarm();
                ctx.fireChannelInactive();
            }
        };
    }

    /** Goes after the codec. */
    ChannelInboundHandlerAdapter requests() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof HttpRequest) {
                    disarm();
                }
                ctx.fireChannelRead(msg);
            }
        };
    }

    private void disarm() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }
}
