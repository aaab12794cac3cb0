package dev.pullthrough.upstream.http;

import java.io.IOException;

/**
 * The egress proxy an upstream is reached through refused or failed the way there (407, 403, a
 * refused connection, no answer to CONNECT): the message names the proxy and its answer, never its password.
 */
public final class EgressProxyFailure extends IOException {
    EgressProxyFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
