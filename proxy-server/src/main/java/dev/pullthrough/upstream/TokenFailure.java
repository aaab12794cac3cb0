package dev.pullthrough.upstream;

import java.io.IOException;

/**
 * A token could not be had from the realm an upstream named: refused by the trust boundary, timed
 * out, too large, not JSON. Said as such, not as the upstream refusing the proxy's credentials.
 */
final class TokenFailure extends IOException {
    private final boolean timeout;

    TokenFailure(String message, boolean timeout) {
        super(message);
        this.timeout = timeout;
    }

    boolean isTimeout() {
        return timeout;
    }
}
