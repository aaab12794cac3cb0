package dev.pullthrough.upstream.http;

import java.io.IOException;

/** A body that was to be held in memory is larger than its limit; nothing of it is kept. */
public final class BodyTooLarge extends IOException {
    public BodyTooLarge(String message) {
        super(message);
    }
}
