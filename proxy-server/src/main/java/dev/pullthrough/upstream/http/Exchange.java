package dev.pullthrough.upstream.http;

import dev.pullthrough.upstream.BodySink;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.pool.ChannelPool;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One request and its response on one pooled connection. The connection reads only when this
 * exchange wants bytes (auto-read is off): for the status and headers, then as the caller chose to
 * read the body. Every field is touched on the connection's event loop only; calls from other
 * threads hop onto it. At the end the connection goes back to its pool when it can carry another
 * request, and is closed otherwise.
 */
final class Exchange implements UpstreamResponse {
    /**
     * A streamed body reads on while fewer unconsumed bytes than this are with the sink, and after a
     * pause once fewer than {@link #RESUME_BELOW} are. What reading resumes below must exceed what a
     * download can hold with no write in flight: a direct write's partial stage plus the one read
     * chunk that straddles into it (1 MiB + 1 MiB), plus what a lone client may still be sending
     * from memory (a chunk or two). A 2 MiB window stalled a cold download for good and 16 MiB doubled
     * the hash's time, its chunks no longer in the CPU's caches when hashed (issue 28's trials);
     * 8 MiB, read on again below 6, gave one cold client 622-692 MiB/s against 554-627 with 4 and 2.
     */
    private static final long STREAM_WINDOW = 8L << 20;
    private static final long RESUME_BELOW = 6L << 20;

    private enum Mode { UNDECIDED, AGGREGATE, STREAM, DISCARD }

    private final Channel channel;
    private final ChannelPool pool;
    private final URI uri;
    private final CompletableFuture<UpstreamResponse> head = new CompletableFuture<>();
    private final ArrayDeque<ByteBuf> early = new ArrayDeque<>();
    private HttpResponse response;
    private boolean keepAlive;
    private boolean ended;
    private boolean finished;
    private Mode mode = Mode.UNDECIDED;
    private ScheduledFuture<?> timer;
    private CompositeByteBuf aggregated;
    private int limit;
    private CompletableFuture<byte[]> body;
    private BodySink sink;
    private long unconsumed;
    private boolean paused;
    /** When reading last paused for the sink, and how long it has paused in all. */
    private long pausedAt;
    private long pausedNanos;
    private Throwable failure;

    Exchange(Channel channel, ChannelPool pool, URI uri) {
        this.channel = channel;
        this.pool = pool;
        this.uri = uri;
    }

    CompletableFuture<UpstreamResponse> head() {
        return head;
    }

    /** Waits at most {@code deadline} for the status and headers. */
    void awaitHeadWithin(Duration deadline, String message) {
        timer = channel.eventLoop().schedule(() -> failed(new TransportTimeout(message)), deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    boolean headArrived() {
        return response != null;
    }

    /** Whether the whole response arrived (it may wait in {@code early} for the caller to choose how to read it). */
    boolean responseComplete() {
        return ended;
    }

    // ---------------------------------------------------------------- from the connection (event loop)

    void onResponse(HttpResponse received) {
        cancelTimer();
        response = received;
        keepAlive = HttpUtil.isKeepAlive(received);
        head.complete(this);
    }

    void onContent(ByteBuf content) {
        if (finished) {
            content.release();
            return;
        }
        switch (mode) {
            case UNDECIDED:
                early.add(content);
                break;
            case AGGREGATE:
                if (aggregated.readableBytes() + content.readableBytes() > limit) {
                    content.release();
                    failed(new BodyTooLarge("the body is larger than " + limit + " bytes"));
                    return;
                }
                aggregated.addComponent(true, content);
                break;
            case STREAM:
                int size = content.readableBytes();
                unconsumed += size;
                sink.onBytes(content.nioBuffer(), () -> consumed(content, size));
                break;
            default:
                content.release();
        }
    }

    void onEnd() {
        ended = true;
        if (mode != Mode.UNDECIDED) {
            complete();
        }
    }

    /** A batch of reads is done: read on when this exchange wants more bytes now. */
    void onReadComplete() {
        if (finished || ended) {
            return;
        }
        boolean wanted = response == null || mode == Mode.AGGREGATE || mode == Mode.DISCARD
                || mode == Mode.STREAM && unconsumed < STREAM_WINDOW;
        if (wanted) {
            channel.read();
        } else {
            paused = true;
            pausedAt = System.nanoTime();
        }
    }

    void failed(Throwable cause) {
        if (finished) {
            return;
        }
        failure = cause;
        if (!head.isDone()) {
            head.completeExceptionally(cause);
        } else if (mode == Mode.AGGREGATE) {
            body.completeExceptionally(cause);
        } else if (mode == Mode.STREAM) {
            sink.onError(cause);
        }
        finish(false);
    }

    // ---------------------------------------------------------------- from the caller (any thread)

    @Override
    public int status() {
        return response.status().code();
    }

    @Override
    public Optional<String> header(String name) {
        return Optional.ofNullable(response.headers().get(name));
    }

    @Override
    public URI uri() {
        return uri;
    }

    @Override
    public CompletableFuture<byte[]> aggregate(int limit, Duration deadline) {
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        onLoop(() -> {
            if (!choose(Mode.AGGREGATE)) {
                result.completeExceptionally(unavailable());
                return;
            }
            this.limit = limit;
            this.body = result;
            this.aggregated = channel.alloc().compositeBuffer(Integer.MAX_VALUE);
            timer = channel.eventLoop().schedule(() -> failed(new TransportTimeout("the body did not arrive within "
                    + deadline.toSeconds() + "s")), deadline.toMillis(), TimeUnit.MILLISECONDS);
            drainEarly();
        });
        return result;
    }

    @Override
    public void stream(BodySink sink) {
        onLoop(() -> {
            if (!choose(Mode.STREAM)) {
                sink.onError(unavailable());
                return;
            }
            this.sink = sink;
            drainEarly();
        });
    }

    @Override
    public void discard() {
        onLoop(() -> {
            if (!choose(Mode.DISCARD)) {
                return;
            }
            if (!ended && keepAlive && HttpUtil.getContentLength(response, -1L) > 64 * 1024) {
                finish(false); // reading a large body only to reuse the connection costs more than a new one
                return;
            }
            drainEarly();
        });
    }

    @Override
    public void cancel(String why) {
        onLoop(() -> failed(new java.io.IOException("cancelled: " + why)));
    }

    // ---------------------------------------------------------------- inside

    /** Why the body cannot be read: the exchange failed, or the body was already taken. */
    private Throwable unavailable() {
        return failure != null ? failure : new IllegalStateException("the body of " + uri + " was already taken");
    }

    private boolean choose(Mode chosen) {
        if (finished && chosen != Mode.DISCARD || mode != Mode.UNDECIDED) {
            return false;
        }
        mode = chosen;
        return !finished;
    }

    /** Hands over what arrived with the headers, then reads on or completes. */
    private void drainEarly() {
        while (!early.isEmpty() && !finished) {
            onContent(early.poll());
        }
        if (finished) {
            return;
        }
        if (ended) {
            complete();
        } else {
            onReadComplete();
        }
    }

    private void consumed(ByteBuf content, int size) {
        onLoop(() -> {
            content.release();
            unconsumed -= size;
            if (paused && !finished && !ended && unconsumed < RESUME_BELOW) {
                paused = false;
                pausedNanos += System.nanoTime() - pausedAt;
                channel.read();
            }
        });
    }

    /**
     * The body is all here: the connection goes back to the pool first, then the caller is told. Told
     * first, a caller sends its next request from the completion (a manifest after its token, on this
     * loop) or at once from another thread, and finds the pool without this connection: a new one each time.
     */
    private void complete() {
        if (finished) {
            return;
        }
        byte[] bytes = null;
        if (mode == Mode.AGGREGATE) {
            bytes = new byte[aggregated.readableBytes()];
            aggregated.readBytes(bytes); // before finish() releases the buffer
        }
        finish(true);
        if (mode == Mode.AGGREGATE) {
            body.complete(bytes);
        } else if (mode == Mode.STREAM) {
            sink.readsWaited(pausedNanos);
            sink.onEnd();
        }
    }

    private void finish(boolean reusable) {
        finished = true;
        cancelTimer();
        while (!early.isEmpty()) {
            early.poll().release();
        }
        if (aggregated != null) {
            aggregated.release();
            aggregated = null;
        }
        ExchangeHandler handler = channel.pipeline().get(ExchangeHandler.class);
        if (handler != null) {
            handler.clear(this);
        }
        if (!(reusable && keepAlive && ended)) {
            channel.close();
        }
        pool.release(channel);
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void onLoop(Runnable action) {
        if (channel.eventLoop().inEventLoop()) {
            action.run();
        } else {
            channel.eventLoop().execute(action);
        }
    }
}
