package dev.pullthrough.upstream;

import dev.pullthrough.upstream.http.UpstreamResponse;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A blob body for in-process tests: the bytes are held until the test sends them, so a test decides
 * when a download ends (and who joined it meanwhile). No transport, no registry.
 */
public final class HeldBlobBody implements UpstreamResponse {
    private final byte[] bytes;
    private final CompletableFuture<BodySink> sink = new CompletableFuture<>();
    private volatile String cancelled;

    public HeldBlobBody(byte[] bytes) {
        this.bytes = bytes;
    }

    /** The body as the upstream hands it to the proxy. */
    public BlobBody body() {
        return new BlobBody(bytes.length, this);
    }

    /** Sends every byte and the end (once the proxy asked to stream). */
    public void send() {
        BodySink to = sink.join();
        to.onBytes(ByteBuffer.wrap(bytes), () -> { });
        to.onEnd();
    }

    /** Why the proxy cancelled the transfer, or null. */
    public String cancelled() {
        return cancelled;
    }

    @Override
    public void stream(BodySink to) {
        sink.complete(to);
    }

    @Override
    public void cancel(String why) {
        cancelled = why;
        sink.thenAccept(to -> to.onError(new java.io.IOException("cancelled: " + why)));
    }

    @Override
    public int status() {
        return 200;
    }

    @Override
    public Optional<String> header(String name) {
        return Optional.empty();
    }

    @Override
    public URI uri() {
        return URI.create("http://127.0.0.1:9/");
    }

    @Override
    public CompletableFuture<byte[]> aggregate(int limit, Duration deadline) {
        return CompletableFuture.completedFuture(bytes);
    }

    @Override
    public void discard() {
        // nothing is held open
    }
}
