package dev.pullthrough.proxy;

import java.io.IOException;

/** An upstream answered something other than success; carries the error the client gets. */
final class UpstreamStatusException extends IOException {
    private final ProxyResponse response;

    UpstreamStatusException(ProxyResponse response) {
        super(response instanceof ProxyResponse.Error e ? e.error().message() : "the upstream refused");
        this.response = response;
    }

    ProxyResponse response() {
        return response;
    }
}
