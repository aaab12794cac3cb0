package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;

/**
 * A blob whose file is still being written (its one upstream download): what a response that
 * follows the file needs to know, and nothing of how the download works.
 */
public interface GrowingBlob {
    Digest digest();

    /** How many bytes a reader may send now (the last one only once the digest is verified). */
    long readable();

    /** Why the download failed, or null while it has not. */
    Throwable failure();

    /** Called whenever more bytes became readable or the download ended. */
    void addListener(Runnable listener);

    void removeListener(Runnable listener);
}
