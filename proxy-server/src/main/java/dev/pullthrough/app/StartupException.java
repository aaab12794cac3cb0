package dev.pullthrough.app;

/** The proxy could not start (port taken, storage unusable); the message says which and why. */
public final class StartupException extends Exception {
    public StartupException(String message, Throwable cause) {
        super(message, cause);
    }
}
