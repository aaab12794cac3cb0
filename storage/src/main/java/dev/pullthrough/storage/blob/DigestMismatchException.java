package dev.pullthrough.storage.blob;

import java.io.IOException;

/** Bytes that do not hash to the digest they were fetched for; never committed. */
public final class DigestMismatchException extends IOException {
    public DigestMismatchException(String message) {
        super(message);
    }
}
