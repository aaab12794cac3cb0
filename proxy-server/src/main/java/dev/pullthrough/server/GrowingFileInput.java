package dev.pullthrough.server;

import dev.pullthrough.proxy.GrowingBlob;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.stream.ChunkedInput;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A client's view of a blob that is still downloading: reads the growing file from this client's
 * own offset, never past what the download marks readable. When it has caught up it answers
 * {@code null} (Netty's "nothing yet"), and the download's listener resumes the transfer once more
 * bytes arrive, so a slow client never slows the download and a fast one is not held back.
 */
final class GrowingFileInput implements ChunkedInput<Object> {
    private static final int CHUNK = 64 * 1024;
    /** Without TLS, verified bytes go out zero-copy in regions of up to this size. */
    private static final int REGION = 4 << 20;

    private final GrowingBlob download;
    private final FileChannel file;
    private final long end;
    private final Runnable listener;
    private final AtomicBoolean waiting = new AtomicBoolean();
    private final boolean zeroCopy;
    private long offset;

    GrowingFileInput(GrowingBlob download, FileChannel file, long start, long end, ChannelHandlerContext ctx) {
        this.zeroCopy = ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class) == null;
        this.download = download;
        this.file = file;
        this.offset = start;
        this.end = end;
        ChunkedWriteHandler chunked = ctx.pipeline().get(ChunkedWriteHandler.class);
        this.listener = () -> {
            if (waiting.compareAndSet(true, false)) {
                ctx.executor().execute(chunked::resumeTransfer);
            }
        };
        download.addListener(listener);
    }

    @Override
    public boolean isEndOfInput() {
        return offset >= end;
    }

    @Override
    public Object readChunk(ByteBufAllocator allocator) throws IOException {
        Throwable failure = download.failure();
        if (failure != null) {
            throw new IOException("upstream download of " + download.digest() + " failed; aborting this response", failure);
        }
        long available = Math.min(download.readable(), end) - offset;
        if (available <= 0) {
            waiting.set(true);
            // The download may have moved on between our look and the flag: look once more.
            if (Math.min(download.readable(), end) - offset <= 0 && download.failure() == null) {
                return null;
            }
            waiting.set(false);
            return readChunk(allocator);
        }
        if (zeroCopy) {
            long length = Math.min(REGION, available);
            SharedFileRegion region = new SharedFileRegion(file, offset, length);
            offset += length;
            return region;
        }
        int length = (int) Math.min(CHUNK, available);
        ByteBuf buffer = allocator.ioBuffer(length);
        boolean ok = false;
        try {
            int read = buffer.writeBytes(file, offset, length);
            if (read < 0) {
                throw new IOException("blob file of " + download.digest() + " ended early");
            }
            offset += read;
            ok = true;
            return buffer;
        } finally {
            if (!ok) {
                buffer.release();
            }
        }
    }

    @Override
    @Deprecated
    public Object readChunk(ChannelHandlerContext ctx) throws IOException {
        return readChunk(ctx.alloc());
    }

    @Override
    public long length() {
        return -1;
    }

    @Override
    public long progress() {
        return offset;
    }

    @Override
    public void close() throws IOException {
        download.removeListener(listener);
        file.close();
    }
}
