package dev.pullthrough.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.GrowingBlob;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client of a cold blob is sent the bytes its download still holds in memory, ahead of the file
 * (issue 28), reads the file for what memory let go, and waits at what has not arrived.
 */
class GrowingFileInputTest {
    @TempDir
    Path dir;

    @Test
    void readChunk_bytesInMemoryAheadOfTheFile_sentFromMemory_thenWaits() throws Exception {
        byte[] blob = new byte[1000];
        Arrays.fill(blob, 0, 400, (byte) 1);
        Arrays.fill(blob, 400, 1000, (byte) 2);
        Path file = dir.resolve("growing");
        Files.write(file, Arrays.copyOf(blob, 400)); // the file holds 400 bytes
        FakeBlob download = new FakeBlob(blob, 400, 400, 700, 700); // file 0..400, memory 400..700

        EmbeddedChannel channel = new EmbeddedChannel(new ChunkedWriteHandler(), new ChannelInboundHandlerAdapter());
        ChannelHandlerContext ctx = channel.pipeline().lastContext();
        try (FileChannel reading = FileChannel.open(file, StandardOpenOption.READ)) {
            GrowingFileInput input = new GrowingFileInput(download, reading, 400, 1000, ctx);

            ByteBuf ahead = assertInstanceOf(ByteBuf.class, input.readChunk(UnpooledByteBufAllocator.DEFAULT));
            assertArrayEquals(Arrays.copyOfRange(blob, 400, 700), ByteBufUtil.getBytes(ahead), "what arrived, past the file");
            ahead.release();
            assertNull(input.readChunk(UnpooledByteBufAllocator.DEFAULT), "nothing more arrived: wait");
            assertEquals(700, input.progress());
            input.close();
        }
        channel.finishAndReleaseAll();
    }

    @Test
    void readChunk_loneClient_sendsTheHeldBytesWithoutACopy_givesThemBackOnceWritten() throws Exception {
        byte[] blob = new byte[1000];
        for (int i = 0; i < blob.length; i++) {
            blob[i] = (byte) (i * 7);
        }
        Path file = dir.resolve("growing");
        Files.write(file, Arrays.copyOf(blob, 400));
        FakeBlob download = new FakeBlob(blob, 400, 400, 700, 700);
        download.lends = true; // a lone client: the download waits for it anyway

        EmbeddedChannel channel = new EmbeddedChannel(new ChunkedWriteHandler(), new ChannelInboundHandlerAdapter());
        ChannelHandlerContext ctx = channel.pipeline().lastContext();
        try (FileChannel reading = FileChannel.open(file, StandardOpenOption.READ)) {
            GrowingFileInput input = new GrowingFileInput(download, reading, 400, 1000, ctx);
            CountingAllocator counting = new CountingAllocator();

            ByteBuf lent = assertInstanceOf(LentBuf.class, input.readChunk(counting), "the held bytes themselves");
            assertEquals(0, counting.buffers.get(), "no buffer taken for a copy");
            assertArrayEquals(Arrays.copyOfRange(blob, 400, 700), ByteBufUtil.getBytes(lent));
            assertEquals(700, download.readerAt, "the download is told how far this client got");
            assertEquals(0, download.givenBack.get(), "held while the socket has not taken them");
            lent.release();
            assertEquals(1, download.givenBack.get(), "given back once written");
            input.close();
        }
        channel.finishAndReleaseAll();
    }

    @Test
    void readChunk_loneClient_heldBytesInHeapMemory_sentAsACopy_givenBackAtOnce() throws Exception {
        byte[] blob = new byte[1000];
        for (int i = 0; i < blob.length; i++) {
            blob[i] = (byte) (i * 3);
        }
        Path file = dir.resolve("growing");
        Files.write(file, Arrays.copyOf(blob, 400));
        FakeBlob download = new FakeBlob(blob, 400, 400, 700, 700);
        download.lends = true;
        download.heapLoans = true; // the bucket's pieces: Netty cannot wrap them as direct memory

        EmbeddedChannel channel = new EmbeddedChannel(new ChunkedWriteHandler(), new ChannelInboundHandlerAdapter());
        ChannelHandlerContext ctx = channel.pipeline().lastContext();
        try (FileChannel reading = FileChannel.open(file, StandardOpenOption.READ)) {
            GrowingFileInput input = new GrowingFileInput(download, reading, 400, 1000, ctx);

            ByteBuf copy = assertInstanceOf(ByteBuf.class, input.readChunk(UnpooledByteBufAllocator.DEFAULT));
            assertArrayEquals(Arrays.copyOfRange(blob, 400, 700), ByteBufUtil.getBytes(copy));
            assertEquals(1, download.givenBack.get(), "copied: the loan goes back at once");
            copy.release();
            assertEquals(1, download.givenBack.get());
            input.close();
        }
        channel.finishAndReleaseAll();
    }

    @Test
    void readChunk_behindWhatMemoryHolds_readsTheFile() throws Exception {
        byte[] blob = new byte[1000];
        for (int i = 0; i < blob.length; i++) {
            blob[i] = (byte) i;
        }
        Path file = dir.resolve("growing");
        Files.write(file, Arrays.copyOf(blob, 600));
        FakeBlob download = new FakeBlob(blob, 600, 600, 900, 900);

        EmbeddedChannel channel = new EmbeddedChannel(new ChunkedWriteHandler(), new ChannelInboundHandlerAdapter());
        // Over TLS (no zero-copy) the file's bytes come as a buffer too; without an SslHandler they come as a region.
        ChannelHandlerContext ctx = channel.pipeline().lastContext();
        try (FileChannel reading = FileChannel.open(file, StandardOpenOption.READ)) {
            GrowingFileInput input = new GrowingFileInput(download, reading, 100, 1000, ctx);
            CountingAllocator counting = new CountingAllocator();
            Object first = input.readChunk(counting);
            SharedFileRegion region = assertInstanceOf(SharedFileRegion.class, first, "let go from memory: from the file");
            assertEquals(500, region.count());
            assertEquals(0, counting.buffers.get(), "no buffer taken for a copy from memory that holds nothing at the offset");
            region.release();
            ByteBuf ahead = assertInstanceOf(ByteBuf.class, input.readChunk(UnpooledByteBufAllocator.DEFAULT));
            assertArrayEquals(Arrays.copyOfRange(blob, 600, 900), ByteBufUtil.getBytes(ahead));
            ahead.release();
            input.close();
        }
        channel.finishAndReleaseAll();
    }

    @Test
    void readChunk_downloadFailsWhileLooking_memoryLetGo_abortsInsteadOfWaitingForever() throws Exception {
        byte[] blob = new byte[1000];
        Path file = dir.resolve("growing");
        Files.write(file, Arrays.copyOf(blob, 400));
        FakeBlob download = new FakeBlob(blob, 400, 400, 700, 700);
        // The download fails between the reader's look at its failure and its look at memory: the failure
        // lets the held chunks go and tells the listeners before the reader says it waits.
        download.onHolds = () -> {
            download.failure = new IOException("the upstream closed the connection in the middle of the body");
            download.heldTo = download.heldFrom;
            download.listeners.forEach(Runnable::run);
        };

        EmbeddedChannel channel = new EmbeddedChannel(new ChunkedWriteHandler(), new ChannelInboundHandlerAdapter());
        ChannelHandlerContext ctx = channel.pipeline().lastContext();
        try (FileChannel reading = FileChannel.open(file, StandardOpenOption.READ)) {
            GrowingFileInput input = new GrowingFileInput(download, reading, 400, 1000, ctx);
            IOException aborted = assertThrows(IOException.class,
                    () -> input.readChunk(UnpooledByteBufAllocator.DEFAULT),
                    "no later notice will come: waiting now would leave the client hanging");
            assertInstanceOf(IOException.class, aborted.getCause());
            input.close();
        }
        channel.finishAndReleaseAll();
    }

    /** A download whose file, memory and arrivals the test sets. */
    /** Counts the buffers taken from it. */
    private static final class CountingAllocator extends AbstractByteBufAllocator {
        final AtomicInteger buffers = new AtomicInteger();

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            buffers.incrementAndGet();
            return Unpooled.buffer(initialCapacity, maxCapacity);
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            buffers.incrementAndGet();
            return Unpooled.directBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }

    private static final class FakeBlob implements GrowingBlob {
        private final byte[] bytes;
        volatile long inFile;
        volatile long heldFrom;
        volatile long heldTo;
        volatile long arrived;
        volatile Throwable failure;
        /** Runs once, when a reader first asks whether memory holds its offset. */
        volatile Runnable onHolds;
        final Set<Runnable> listeners = new CopyOnWriteArraySet<>();
        volatile boolean lends;
        /** Lends heap memory, as a download from the bucket does. */
        volatile boolean heapLoans;
        volatile long readerAt = -1;
        final AtomicInteger givenBack = new AtomicInteger();

        /** In the file up to {@code inFile}, held in memory from {@code heldFrom} to {@code heldTo}, arrived up to {@code arrived}. */
        FakeBlob(byte[] bytes, long inFile, long heldFrom, long heldTo, long arrived) {
            this.bytes = bytes;
            this.inFile = inFile;
            this.heldFrom = heldFrom;
            this.heldTo = heldTo;
            this.arrived = arrived;
        }

        @Override
        public void readerAt(long offset) {
            readerAt = offset;
        }

        @Override
        public Digest digest() {
            return Digest.sha256Of(bytes);
        }

        @Override
        public long readable() {
            return inFile;
        }

        @Override
        public long available() {
            return arrived;
        }

        @Override
        public boolean holds(long offset) {
            Runnable hook = onHolds;
            onHolds = null;
            if (hook != null) {
                hook.run();
            }
            return offset >= heldFrom && offset < heldTo;
        }

        @Override
        public Lent lendHeld(long offset, int max) {
            if (offset < heldFrom || offset >= heldTo) {
                return null;
            }
            int length = (int) Math.min(max, heldTo - offset);
            ByteBuffer lent = (heapLoans ? ByteBuffer.allocate(length) : ByteBuffer.allocateDirect(length))
                    .put(bytes, (int) offset, length).flip();
            return new Lent() {
                @Override
                public ByteBuffer bytes() {
                    return lent;
                }

                @Override
                public void giveBack() {
                    givenBack.incrementAndGet();
                }
            };
        }

        @Override
        public boolean lendsHeld() {
            return lends;
        }

        @Override
        public int copyHeld(long offset, ByteBuffer into) {
            if (offset < heldFrom || offset >= heldTo) {
                return 0;
            }
            int length = (int) Math.min(into.remaining(), heldTo - offset);
            into.put(bytes, (int) offset, length);
            return length;
        }

        @Override
        public Throwable failure() {
            return failure;
        }

        @Override
        public void addListener(Runnable listener) {
            listeners.add(listener);
        }

        @Override
        public void removeListener(Runnable listener) {
            listeners.remove(listener);
        }
    }
}
