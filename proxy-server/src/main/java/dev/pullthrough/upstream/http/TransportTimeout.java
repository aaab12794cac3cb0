package dev.pullthrough.upstream.http;

import java.io.IOException;

/** The upstream did not connect, answer or send its body within a deadline; the message says which. */
public final class TransportTimeout extends IOException {
    public TransportTimeout(String message) {
        super(message);
    }
}
