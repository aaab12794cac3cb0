package dev.pullthrough.upstream;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;

/**
 * A blob's body as it arrives from the upstream: its declared size ({@code -1} when none was
 * declared) and its bytes; closing it aborts the transfer.
 */
public record BlobBody(long size, InputStream bytes) implements Closeable {
    @Override
    public void close() throws IOException {
        bytes.close();
    }
}
