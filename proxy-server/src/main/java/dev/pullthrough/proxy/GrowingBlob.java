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
     * Whether memory holds the byte at {@code offset} now: a reader that fell behind asks first, to
     * spare a buffer for a copy that would find nothing.
     */
    boolean holds(long offset);

    /** Why the download failed, or null while it has not. */
    Throwable failure();

    /** Called whenever more bytes became readable or the download ended. */
    void addListener(Runnable listener);

    void removeListener(Runnable listener);
}
