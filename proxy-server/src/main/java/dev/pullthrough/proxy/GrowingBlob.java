package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import java.nio.ByteBuffer;

/**
 * A blob whose file is still being written (its one upstream download): what a response that
 * follows the file needs to know, and nothing of how the download works.
 */
public interface GrowingBlob {
    Digest digest();

    /** How many bytes a reader may send now from the file (the last one only once the digest is verified). */
    long readable();

    /**
     * How many bytes a reader may send now from memory or the file (the last one only once the
     * digest is verified); any of them that {@link #copyHeld} no longer has is in the file.
     */
    long available();

    /**
     * Copies the bytes from {@code offset} on that are still held in memory into {@code into};
     * returns how many (0: they are in the file now).
     */
    int copyHeld(long offset, ByteBuffer into);

    /**
     * Whether a reader borrows held bytes ({@link #lendHeld}) rather than copying them: only the lone
     * reader the download waits for anyway. A crowd's readers copy, so that a stalled client's socket
     * never keeps a chunk (and the upstream's reading) from going on.
     */
    boolean lendsHeld();

    /**
     * The bytes from {@code offset} on that memory holds now, at most {@code max}, lent without a
     * copy; null when memory no longer holds {@code offset} (the file has it). The memory stays held
     * until the loan is given back.
     */
    Lent lendHeld(long offset, int max);

    /** Bytes a download's memory lends a client; given back once the client's socket took them. */
    interface Lent {
        /** The lent bytes: to be read, never written. */
        ByteBuffer bytes();

        /** The client is done with the bytes; only the first call counts. */
        void giveBack();
    }

    /**
     * Whether memory holds the byte at {@code offset} now: a reader that fell behind asks first, to
     * spare a buffer for a copy that would find nothing.
     */
    boolean holds(long offset);

    /**
     * The reader has sent every byte below {@code offset}: memory need not hold them for it any more
     * (while a download has a lone reader, its chunks wait for that reader too).
     */
    void readerAt(long offset);

    /** Why the download failed, or null while it has not. */
    Throwable failure();

    /** Called whenever more bytes became readable or the download ended. */
    void addListener(Runnable listener);

    void removeListener(Runnable listener);
}
