package dev.pullthrough.config;

import java.time.Duration;

/**
 * How long the proxy waits on one upstream, so that a slow or silent upstream can hold no client and
 * no download slot for ever: {@code connect} for a connection, {@code response} for the status and
 * headers of an answer, {@code manifest} for a whole manifest (or token, or listing) body, and for
 * blobs a floor of {@code blobMinRate} bytes a second over every {@code blobRateWindow}.
 */
public record UpstreamTimeouts(Duration connect, Duration response, Duration manifest, long blobMinRate,
                               Duration blobRateWindow) {
    public static final UpstreamTimeouts DEFAULTS = new UpstreamTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(30),
            Duration.ofSeconds(60), 1024, Duration.ofSeconds(30));
}
