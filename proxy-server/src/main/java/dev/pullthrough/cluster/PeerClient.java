package dev.pullthrough.cluster;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.UpstreamTrust;
import dev.pullthrough.upstream.http.ClientLoops;
import dev.pullthrough.upstream.http.NettyHttpClient;
import dev.pullthrough.upstream.http.UpstreamResponse;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** Asks another replica's peer endpoint ({@link PeerApi}) for a blob, with the cluster's shared secret. */
final class PeerClient implements AutoCloseable {
    /** A replica that does not accept a connection this soon is taken for dead. */
    private static final Duration CONNECT = Duration.ofSeconds(2);
    /** The peer answers once its own download has the upstream's answer: bounded like an upstream's. */
    private static final Duration RESPONSE = Duration.ofSeconds(60);

    /** What a peer said. */
    sealed interface Answer {}

    /** The blob, streaming. */
    record Streaming(BlobBody body) implements Answer {}

    /** The peer holds nothing of it for this repository (404), or refused us (401: another secret). */
    record NotServed(int status) implements Answer {}

    /** No answer: the peer is down, or did not answer in time. */
    record Unreachable(Throwable failure) implements Answer {}

    private final NettyHttpClient http;
    private final String secret;

    PeerClient(ClientLoops loops, String secret) throws IOException {
        this.http = new NettyHttpClient(loops, UpstreamTrust.of(Optional.empty()), CONNECT, RESPONSE);
        this.secret = secret;
    }

    CompletableFuture<Answer> blob(URI peer, String upstream, String repository, Digest digest) {
        String base = peer.toString().endsWith("/") ? peer.toString().substring(0, peer.toString().length() - 1) : peer.toString();
        URI uri = URI.create(base + PeerApi.blobPath(upstream, repository, digest));
        return http.send("GET", uri, List.<String[]>of(new String[] {"Authorization", "Bearer " + secret}))
                .<Answer>thenApply(response -> {
                    if (response.status() != 200) {
                        response.discard();
                        return new NotServed(response.status());
                    }
                    return new Streaming(new BlobBody(declaredLength(response), response, true));
                })
                .exceptionally(Unreachable::new);
    }

    /** The peer's Content-Length; -1 when absent or not a number (the download then learns the size at the end). */
    private static long declaredLength(UpstreamResponse response) {
        try {
            return response.header("Content-Length").map(Long::parseLong).orElse(-1L);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    @Override
    public void close() {
        http.close();
    }
}
