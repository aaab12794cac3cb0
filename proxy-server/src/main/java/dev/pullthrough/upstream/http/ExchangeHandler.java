package dev.pullthrough.upstream.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import java.io.IOException;

/** The last handler of a pooled connection: passes what arrives to the exchange running on it, if any. */
final class ExchangeHandler extends SimpleChannelInboundHandler<HttpObject> {
    private Exchange current;

    void start(Exchange exchange) {
        current = exchange;
    }

    void clear(Exchange exchange) {
        if (current == exchange) {
            current = null;
        }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, HttpObject message) {
        Exchange exchange = current;
        if (exchange == null) {
            return; // nothing asked for it: an idle connection's stray bytes
        }
        if (message.decoderResult().isFailure()) {
            exchange.failed(new IOException("the upstream's answer is not HTTP: " + message.decoderResult().cause().getMessage()));
            return;
        }
        if (message instanceof HttpResponse) {
            exchange.onResponse((HttpResponse) message);
        }
        if (message instanceof HttpContent) {
            HttpContent content = (HttpContent) message;
            if (content.content().isReadable()) {
                exchange.onContent(content.content().retain());
            }
            if (content instanceof LastHttpContent) {
                exchange.onEnd();
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        Exchange exchange = current;
        if (exchange != null) {
            exchange.onReadComplete();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        Exchange exchange = current;
        // An upstream that sends "Connection: close" closes right after the response; epoll may read it
        // all (and see the close) before the caller chose how to read the body: that is no failure.
        if (exchange != null && !exchange.responseComplete()) {
            exchange.failed(new IOException("the upstream closed the connection"
                    + (exchange.headArrived() ? " in the middle of the body" : " before answering")));
        }
        super.channelInactive(ctx);
    }

    /** An idle pooled connection is closed (the pool drops it at the next acquire); one in use is left alone. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
        if (event instanceof IdleStateEvent && current == null) {
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Exchange exchange = current;
        if (exchange != null) {
            exchange.failed(cause);
        }
        ctx.close();
    }
}
