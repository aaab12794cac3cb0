package dev.pullthrough.upstream;

/**
 * Where a blob body comes from: an upstream's response, or another store that holds the blob (the
 * bucket replicas share). Streamed once to a {@link BodySink}, at the pace it consumes, or cancelled.
 */
public interface BodySource {
    void stream(BodySink sink);

    /** Abandons the transfer; a sink already streaming is told through {@code onError}. */
    void cancel(String why);
}
