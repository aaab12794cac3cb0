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
 * A client's view of a blob that is still downloading, from this client's own offset: copies the
 * chunks the download still holds in memory, and reads the growing file for those it let go (a
 * client that fell behind), never past what the download marks available. When it has caught up it answers
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
        Object next = nextChunk(allocator);
        download.readerAt(offset); // what this client passed need not wait in memory for it
        return next;
    }

    private Object nextChunk(ByteBufAllocator allocator) throws IOException {
        Throwable failure = download.failure();
        if (failure != null) {
            throw new IOException("upstream download of " + download.digest() + " failed; aborting this response", failure);
        }
        long available = Math.min(download.available(), end) - offset;
        if (available <= 0) {
            return waitForBytes(allocator);
        }
        Object held = fromMemory(allocator, available);
        if (held != null) {
            return held;
        }
        long inFile = Math.min(download.readable(), end) - offset;
        if (inFile <= 0) {
            // Memory let go of bytes the file does not have: a download that just failed drops its chunks
            // (otherwise a chunk is let go only once the file has it). Its notice may be gone already.
            return waitForBytes(allocator);
        }
        if (zeroCopy) {
            long length = Math.min(REGION, inFile);
            SharedFileRegion region = new SharedFileRegion(file, offset, length);
            offset += length;
            return region;
        }
        int length = (int) Math.min(CHUNK, inFile);
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

    /**
     * The next bytes from the download's memory, or null when it no longer holds them: lent to a lone
     * client as they are (up to the end of their chunk), copied for one of a crowd.
     */
    private ByteBuf fromMemory(ByteBufAllocator allocator, long available) {
        if (download.lendsHeld()) {
            GrowingBlob.Lent lent = download.lendHeld(offset, (int) Math.min(Integer.MAX_VALUE, available));
            if (lent != null) {
                offset += lent.bytes().remaining();
                return LentBuf.of(lent, allocator);
            }
        }
        if (!download.holds(offset)) {
            return null;
        }
        int length = (int) Math.min(CHUNK, available);
        ByteBuf buffer = allocator.ioBuffer(length);
        int copied = download.copyHeld(offset, buffer.internalNioBuffer(buffer.writerIndex(), length));
        if (copied == 0) {
            buffer.release();
            return null;
        }
        buffer.writerIndex(buffer.writerIndex() + copied);
        offset += copied;
        return buffer;
    }

    /**
     * Nothing to send yet: null (Netty's "nothing yet") once the download's listener will resume us.
     * The download may have moved on or failed between our look and the flag, and its notice then found
     * nobody waiting: look once more.
     */
    private Object waitForBytes(ByteBufAllocator allocator) throws IOException {
        waiting.set(true);
        if (download.failure() == null && nothingToSend()) {
            return null;
        }
        waiting.set(false);
        return nextChunk(allocator);
    }

    /** Nothing at this offset has arrived, or (a download that failed) memory let it go and the file lacks it. */
    private boolean nothingToSend() {
        return Math.min(download.available(), end) - offset <= 0
                || !download.holds(offset) && Math.min(download.readable(), end) - offset <= 0;
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
