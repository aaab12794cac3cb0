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
 * ever, as every byte restarts the idle timer. Two handlers around the HTTP codec share the state:
 * {@link #bytes()} notes when a request's first byte came, {@link #requests()} clears it when the
 * codec has the request. One check per connection runs every quarter of the deadline, so requests
 * themselves schedule nothing (a timer per request cost the warm path measurably).
 */
final class HeaderDeadline {
    private final long limitNanos;
    /** When the first byte of the request in progress arrived; 0 between requests. */
    private long startedNanos;
    private ScheduledFuture<?> check;

    HeaderDeadline(Duration limit) {
        this.limitNanos = limit.toNanos();
    }

    /** Goes before the codec. */
    ChannelInboundHandlerAdapter bytes() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                long period = Math.max(1, TimeUnit.NANOSECONDS.toMillis(limitNanos) / 4);
                check = ctx.executor().scheduleAtFixedRate(() -> {
                    if (startedNanos != 0 && System.nanoTime() - startedNanos > limitNanos) {
                        ctx.close();
                    }
                }, period, period, TimeUnit.MILLISECONDS);
                ctx.fireChannelActive();
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (startedNanos == 0 && msg instanceof ByteBuf && ((ByteBuf) msg).isReadable()) {
                    startedNanos = System.nanoTime();
                }
                ctx.fireChannelRead(msg);
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                if (check != null) {
                    check.cancel(false);
                }
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
                    startedNanos = 0;
                }
                ctx.fireChannelRead(msg);
            }
        };
    }
}
