package dev.pullthrough.upstream;

import java.nio.ByteBuffer;

/**
 * Where a streamed upstream body goes, chunk by chunk as it arrives. A chunk is only valid until
 * its {@code consumed} callback is called, which must happen exactly once; the upstream reads on
 * only while few enough chunks are unconsumed (backpressure: a slow disk slows the socket, it
 * does not fill memory). Called on the transport's event loop: never block in these methods.
 */
public interface BodySink {
    void onBytes(ByteBuffer bytes, Runnable consumed);

    /** The whole body arrived. */
    void onEnd();

    /**
     * Called just before {@link #onEnd}: how long the transport did not read because this sink held
     * too many unconsumed chunks, i.e. how long the upstream waited on the sink (issue 28's stage figures).
     */
    default void readsWaited(long nanos) {
    }

    /** The body was cut short (the connection failed, or the transfer was cancelled). */
    void onError(Throwable failure);
}
