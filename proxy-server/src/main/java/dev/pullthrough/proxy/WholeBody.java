package dev.pullthrough.proxy;

import java.nio.ByteBuffer;

/**
 * The body of a small blob, gathered in memory as it arrives so that it is written in one go. Fed
 * on one thread (the transport's event loop); read after a hand-off to another.
 */
final class WholeBody {
    private final byte[] bytes;
    private int filled;

    WholeBody(int length) {
        bytes = new byte[length];
    }

    /** Whether a body that declares {@code length} bytes is gathered whole: a known length, and a small one. */
    static boolean fits(long length) {
        return length >= 0 && length <= BlobDownload.WHOLE_BODY_LIMIT;
    }

    /** Copies {@code chunk} in (consumed); false, copying nothing, when it would pass the declared length. */
    boolean add(ByteBuffer chunk) {
        int length = chunk.remaining();
        if (length > bytes.length - filled) {
            return false;
        }
        chunk.get(bytes, filled, length);
        filled += length;
        return true;
    }

    /** Whether every declared byte arrived. */
    boolean complete() {
        return filled == bytes.length;
    }

    /** What arrived. */
    ByteBuffer bytes() {
        return ByteBuffer.wrap(bytes, 0, filled);
    }
}
