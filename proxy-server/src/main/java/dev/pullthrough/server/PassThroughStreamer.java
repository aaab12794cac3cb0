package dev.pullthrough.server;

import dev.pullthrough.oci.Digest;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams an upstream body straight to one client when the cache cannot store it. Runs on a worker
 * thread (the upstream read blocks); each chunk waits for the previous write, so memory stays at one
 * chunk in flight and one held back. The held-back chunk is sent only once the digest matched:
 * otherwise the connection is closed and the client never holds a complete body of wrong bytes.
 */
final class PassThroughStreamer implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(PassThroughStreamer.class);
    private static final int CHUNK = 64 * 1024;

    private final ChannelHandlerContext ctx;
    private final Digest digest;
    private final InputStream body;
    private final ChannelPromise done;

    PassThroughStreamer(ChannelHandlerContext ctx, Digest digest, InputStream body, ChannelPromise done) {
        this.ctx = ctx;
        this.digest = digest;
        this.body = body;
        this.done = done;
    }

    @Override
    public void run() {
        MessageDigest hasher = digest.newHasher();
        byte[] held = null;
        try (InputStream in = body) {
            byte[] buffer = new byte[CHUNK];
            int n;
            while ((n = in.readNBytes(buffer, 0, CHUNK)) > 0) {
                byte[] chunk = Arrays.copyOf(buffer, n);
                hasher.update(chunk);
                if (held != null && !send(held)) {
                    return;
                }
                held = chunk;
            }
            if (!digest.matches(hasher)) {
                throw new IOException("upstream bytes of " + digest + " do not match the digest");
            }
            if (held != null && !send(held)) {
                return;
            }
            ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> {
                if (f.isSuccess()) {
                    done.trySuccess();
                } else {
                    done.tryFailure(f.cause());
                }
            });
        } catch (IOException e) {
            LOG.warn("passing blob {} through failed: {}", digest, e.toString());
            ctx.close();
            done.tryFailure(e);
        }
    }

    /** Writes one chunk and waits for it to leave, so a slow client slows only its own stream. */
    private boolean send(byte[] chunk) {
        ChannelFuture write = ctx.writeAndFlush(Unpooled.wrappedBuffer(chunk));
        write.awaitUninterruptibly();
        if (!write.isSuccess()) {
            done.tryFailure(write.cause());
            return false;
        }
        return true;
    }
}
