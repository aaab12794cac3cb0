package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.BodySink;
import java.nio.ByteBuffer;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's stream of a blob straight from the upstream, because the cache does not take it
 * (too large, disk full or unwritable). No thread is held for it: the body is pushed to the
 * client's sink as it arrives. It is held to the download's rate floor, so a silent or trickling
 * upstream cannot keep it, its connections and its memory for ever (issue 26). The floor counts what
 * the upstream sent, which a client slower than the floor holds back too (backpressure): such a
 * client is cut like a stalled upstream, which frees the upstream connection it would hold.
 */
public final class PassThrough {
    private static final Logger LOG = LoggerFactory.getLogger(PassThrough.class);

    private final Target target;
    private final Digest digest;
    private final BlobBody body;
    private final RateFloor floor;
    private final Runnable onEnd;
    private final AtomicBoolean ended = new AtomicBoolean();
    /** Bytes received from the upstream; only the transport's event loop adds. */
    private volatile long received;

    /** @param onEnd called once when the stream ended, whichever way */
    PassThrough(Target target, Digest digest, BlobBody body, Runnable onEnd) {
        this.target = target;
        this.digest = digest;
        this.body = body;
        this.onEnd = onEnd;
        this.floor = new RateFloor(target.upstream().config().timeouts(), System.nanoTime());
    }

    public Digest digest() {
        return digest;
    }

    /** The size the upstream declared, or -1 when it sends the body without a length. */
    public long size() {
        return body.size();
    }

    /** Streams the body to {@code client} (called on the transport's event loop), once. */
    public void stream(BodySink client) {
        floor.restart(System.nanoTime(), 0);
        body.stream(new BodySink() {
            @Override
            public void onBytes(ByteBuffer bytes, Runnable consumed) {
                received += bytes.remaining();
                client.onBytes(bytes, consumed);
            }

            @Override
            public void onEnd() {
                ended();
                client.onEnd();
            }

            @Override
            public void onError(Throwable failure) {
                ended();
                client.onError(failure);
            }
        });
    }

    /** Abandons the stream (the client left, or the response ended early): the upstream connection is closed. */
    public void cancel(String why) {
        body.cancel(why);
        ended();
    }

    /** Cuts the stream when the upstream sent less than its floor over the last window; called periodically. */
    void abortIfTooSlow(long nowNanos) {
        OptionalLong sent = floor.shortfall(nowNanos, received);
        if (sent.isPresent() && !ended.get()) {
            String why = "upstream " + target.upstreamName() + " " + floor.describe(sent.getAsLong(), "blob " + digest)
                    + ", passed through to a client (" + received + " bytes in all)";
            LOG.warn("{}; cutting it", why);
            cancel(why);
        }
    }

    private void ended() {
        if (ended.compareAndSet(false, true)) {
            onEnd.run();
        }
    }
}
