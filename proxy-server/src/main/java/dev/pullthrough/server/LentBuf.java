package dev.pullthrough.server;

import dev.pullthrough.proxy.GrowingBlob;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import java.nio.ByteBuffer;

/**
 * A download's held bytes sent to a client as they are, without a copy: Netty writes them to the
 * socket straight from the chunk the upstream's socket was read into, and gives the loan back (the
 * chunk may go back to the transport) when the buffer is released, once written or dropped.
 */
final class LentBuf extends UnpooledDirectByteBuf {
    private final GrowingBlob.Lent lent;

    /**
     * The lent bytes as a buffer to send: themselves where they are direct memory Netty can wrap, a
     * copy otherwise (the bucket's pieces are heap memory), the loan then given back at once.
     */
    static ByteBuf of(GrowingBlob.Lent lent, ByteBufAllocator allocator) {
        ByteBuffer bytes = lent.bytes();
        if (bytes.isDirect() && !bytes.isReadOnly()) {
            return new LentBuf(lent);
        }
        try {
            ByteBuf copy = allocator.ioBuffer(bytes.remaining());
            copy.writeBytes(bytes.duplicate());
            return copy;
        } finally {
            lent.giveBack();
        }
    }

    private LentBuf(GrowingBlob.Lent lent) {
        // Wraps (does not copy, never frees) the lent memory: the transport's buffer owns it.
        super(UnpooledByteBufAllocator.DEFAULT, lent.bytes(), lent.bytes().remaining());
        this.lent = lent;
    }

    @Override
    protected void deallocate() {
        super.deallocate();
        lent.giveBack();
    }
}
