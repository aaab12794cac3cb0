package dev.pullthrough.proxy;

import java.io.IOException;

/**
 * The cache cannot take a blob (disk full, directory unwritable; or too large, {@link BlobNotAdmittedException}):
 * it is passed through instead.
 */
class StorageUnavailableException extends IOException {
    StorageUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
