package dev.pullthrough.proxy;

import java.io.IOException;

/** An upstream answered something other than success; carries the error the client gets. */
final class UpstreamStatusException extends IOException {
    private final ProxyResponse.Error response;

    UpstreamStatusException(ProxyResponse.Error response) {
        super(response.error().message());
        this.response = response;
    }

    ProxyResponse.Error response() {
        return response;
    }
}
