package dev.pullthrough.proxy;

import java.io.IOException;

/** The cache cannot take a blob (disk full, directory unwritable): it is passed through instead. */
class StorageUnavailableException extends IOException {
    StorageUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
