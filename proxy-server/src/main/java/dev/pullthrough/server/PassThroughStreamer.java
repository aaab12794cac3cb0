package dev.pullthrough.server;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.PassThrough;
import dev.pullthrough.upstream.BodySink;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams an upstream body straight to one client when the cache does not take it, without a
 * thread of its own (issue 26: 70 stalled pass-throughs held every blocking thread). Chunks arrive
 * on the transport's event loop and are hashed and written on the client's; a chunk is consumed,
 * so the upstream reads on, only once the client took it: a slow client slows only its own stream
 * and memory stays within the transport's window. The newest chunk is held back until the next one
 * arrives, and the last one until the digest matched: otherwise the connection is closed, and the
 * client never holds a complete body of wrong bytes. A stalled upstream is cut by the rate floor
 * the proxy holds every pass-through to ({@link PassThrough}).
 */
final class PassThroughStreamer implements BodySink {
    private static final Logger LOG = LoggerFactory.getLogger(PassThroughStreamer.class);

    private final ChannelHandlerContext ctx;
    private final PassThrough passThrough;
    private final Digest digest;
    private final ChannelPromise done;
    private final MessageDigest hasher;
    private final ChannelFutureListener clientLeft;
    // Only on the client's event loop:
    private ByteBuffer held;
    private Runnable heldConsumed;
    private long received;
    private boolean finished;

    private PassThroughStreamer(ChannelHandlerContext ctx, PassThrough passThrough) {
        this.ctx = ctx;
        this.passThrough = passThrough;
        this.digest = passThrough.digest();
        this.done = ctx.newPromise();
        this.hasher = digest.newHasher();
        this.clientLeft = f -> passThrough.cancel("the client closed its connection");
    }

    /** Starts streaming {@code passThrough} to the client; the future completes when its last byte was written. */
    static ChannelPromise start(ChannelHandlerContext ctx, PassThrough passThrough) {
        PassThroughStreamer streamer = new PassThroughStreamer(ctx, passThrough);
        ctx.channel().closeFuture().addListener(streamer.clientLeft);
        passThrough.stream(streamer);
        return streamer.done;
    }

    // ---------------------------------------------------------------- from the transport's event loop

    @Override
    public void onBytes(ByteBuffer bytes, Runnable consumed) {
        ctx.executor().execute(() -> accept(bytes, consumed));
    }

    @Override
    public void onEnd() {
        ctx.executor().execute(this::ended);
    }

    @Override
    public void onError(Throwable failure) {
        ctx.executor().execute(() -> fail("the upstream transfer failed: " + failure.getMessage()));
    }

    // ---------------------------------------------------------------- on the client's event loop

    private void accept(ByteBuffer bytes, Runnable consumed) {
        if (finished) {
            consumed.run();
            return;
        }
        received += bytes.remaining();
        hasher.update(bytes.duplicate());
        long declared = passThrough.size();
        if (declared >= 0 && received > declared) {
            consumed.run();
            fail("upstream sent more than its Content-Length of " + declared);
            return;
        }
        ByteBuffer previous = held;
        Runnable previousConsumed = heldConsumed;
        held = bytes;
        heldConsumed = consumed;
        if (previous != null) {
            send(previous, previousConsumed);
        }
    }

    private void ended() {
        if (finished) {
            return;
        }
        long declared = passThrough.size();
        if (declared >= 0 && received != declared) {
            fail("upstream ended after " + received + " of " + declared + " bytes");
            return;
        }
        if (!digest.matches(hasher)) {
            fail("upstream bytes do not match the digest");
            return;
        }
        finished = true;
        if (held != null) {
            send(held, heldConsumed);
            held = null;
        }
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> {
            ctx.channel().closeFuture().removeListener(clientLeft);
            if (f.isSuccess()) {
                done.trySuccess();
            } else {
                done.tryFailure(f.cause());
            }
        });
    }

    /** Writes one chunk; its upstream buffer is given back once the client took it (or the write failed). */
    private void send(ByteBuffer chunk, Runnable consumed) {
        ctx.writeAndFlush(Unpooled.wrappedBuffer(chunk)).addListener(f -> {
            consumed.run();
            if (!f.isSuccess()) {
                fail("writing to the client failed: " + f.cause());
            }
        });
    }

    /** Ends the stream short: the connection is closed, so a short body never looks like success. */
    private void fail(String why) {
        if (finished) {
            return;
        }
        finished = true;
        if (held != null) {
            heldConsumed.run();
            held = null;
        }
        LOG.warn("passing blob {} through failed after {} bytes: {}", digest, received, why);
        ctx.channel().closeFuture().removeListener(clientLeft);
        passThrough.cancel(why);
        ctx.close();
        done.tryFailure(new IOException("passing blob " + digest + " through failed: " + why));
    }
}
