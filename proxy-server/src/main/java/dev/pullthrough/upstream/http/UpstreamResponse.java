package dev.pullthrough.upstream.http;

import dev.pullthrough.upstream.BodySink;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * An upstream's answer once its status and headers arrived; its body is then read exactly one way:
 * aggregated (bounded in size and time), streamed to a {@link BodySink}, or discarded. Until then
 * the connection reads nothing more.
 */
public interface UpstreamResponse {
    int status();

    Optional<String> header(String name);

    /** Where the request went (redirects are resolved against it). */
    URI uri();

    /** The whole body, failing when it exceeds {@code limit} bytes or does not arrive within {@code deadline}. */
    CompletableFuture<byte[]> aggregate(int limit, Duration deadline);

    /** Streams the body to {@code sink}, reading only as fast as it consumes. */
    void stream(BodySink sink);

    /** Drops the body (the connection is reused when that is cheap, closed otherwise). */
    void discard();

    /** Abandons the exchange: the connection is closed and the body's sink, if any, told so. */
    void cancel(String why);
}
