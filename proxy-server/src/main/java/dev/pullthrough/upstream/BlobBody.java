package dev.pullthrough.upstream;

import dev.pullthrough.upstream.http.UpstreamResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A blob's body as it arrives from the upstream: its declared size ({@code -1} when none was
 * declared), streamed once to a {@link BodySink} (or read as an {@link InputStream}), or cancelled.
 */
public final class BlobBody {
    private final long size;
    private final BodySource source;
    private final boolean shared;

    BlobBody(long size, UpstreamResponse response) {
        this(size, response, false);
    }

    /** A body streamed from an HTTP response: the upstream's, or {@code shared} another replica's. */
    public BlobBody(long size, UpstreamResponse response, boolean shared) {
        this(size, new BodySource() {
            @Override
            public void stream(BodySink sink) {
                response.stream(sink);
            }

            @Override
            public void cancel(String why) {
                response.cancel(why);
            }
        }, shared);
    }

    /** A body of the upstream's own, from another kind of source. */
    public BlobBody(long size, BodySource source) {
        this(size, source, false);
    }

    /**
     * A body from another source than an upstream response; {@code shared}: the blob is in the
     * shared bucket already, or another replica puts it there (it came from the bucket or a peer).
     */
    public BlobBody(long size, BodySource source, boolean shared) {
        this.size = size;
        this.source = source;
        this.shared = shared;
    }

    public long size() {
        return size;
    }

    /** Whether the bucket holds the blob already, or another replica writes it there: this replica need not. */
    public boolean shared() {
        return shared;
    }

    /** Streams the body to {@code sink}, read from the upstream only as fast as the sink consumes it. */
    public void stream(BodySink sink) {
        source.stream(sink);
    }

    /** Abandons the transfer: the connection is closed; a sink is told through {@code onError}. */
    public void cancel(String why) {
        source.cancel(why);
    }

    /**
     * The body as a blocking stream, for the one client that gets a blob passed through (the cache
     * cannot store it): the reading thread copies each chunk out, and only then is more read.
     */
    public InputStream asInputStream() {
        BlockingBody body = new BlockingBody();
        source.stream(body);
        return body;
    }

    /** Bridges the pushed chunks to a pulling reader; memory stays within the transport's window. */
    private final class BlockingBody extends InputStream implements BodySink {
        private record Chunk(ByteBuffer bytes, Runnable consumed, Throwable failure, boolean end) {}

        private final LinkedBlockingQueue<Chunk> chunks = new LinkedBlockingQueue<>();
        private Chunk current;
        private boolean closed;

        @Override
        public void onBytes(ByteBuffer bytes, Runnable consumed) {
            chunks.add(new Chunk(bytes, consumed, null, false));
        }

        @Override
        public void onEnd() {
            chunks.add(new Chunk(null, null, null, true));
        }

        @Override
        public void onError(Throwable failure) {
            chunks.add(new Chunk(null, null, failure, false));
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] into, int offset, int length) throws IOException {
            while (true) {
                if (closed) {
                    throw new IOException("closed");
                }
                if (current == null) {
                    try {
                        current = chunks.take();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException("interrupted reading a blob from the upstream", e);
                    }
                }
                if (current.end()) {
                    return -1;
                }
                if (current.failure() != null) {
                    throw new IOException("the upstream transfer failed: " + current.failure().getMessage(), current.failure());
                }
                if (current.bytes().hasRemaining()) {
                    int n = Math.min(length, current.bytes().remaining());
                    current.bytes().get(into, offset, n);
                    return n;
                }
                current.consumed().run();
                current = null;
            }
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                source.cancel("the reader closed the stream");
                if (current != null && current.consumed() != null) {
                    current.consumed().run();
                }
                for (Chunk chunk; (chunk = chunks.poll()) != null; ) {
                    if (chunk.consumed() != null) {
                        chunk.consumed().run();
                    }
                }
            }
        }
    }
}
