package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26: a blob passed through (larger than the cache takes) streams with no thread of its own,
 * and still never hands a client a complete body of wrong bytes, with or without a declared length;
 * a client that leaves frees the upstream transfer at once, not at the rate floor.
 */
class PassThroughIntegrityTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    Path temp;

    private ProxyUnderTest proxy(FaultyUpstream upstream) {
        // 1 MiB: a blob over 512 KiB is passed through. The rate floor's window is long, so only
        // the client's leaving can end a stalled transfer within these tests.
        return ProxyUnderTest.start(temp.resolve("proxy"), "storage:\n  maxSize: 1MiB\nupstreams:\n  - name: faulty\n    url: "
                + upstream.url() + "\n    blobRateWindow: 60s\n");
    }

    @Test
    void passThrough_wrongBytesWithALength_neverACompleteBody() throws Exception {
        byte[] blob = random(800 * 1024);
        Digest digest = Digest.sha256Of(blob);
        byte[] wrong = blob.clone();
        wrong[wrong.length - 1] ^= 1;
        try (FaultyUpstream upstream = new FaultyUpstream(); ProxyUnderTest proxy = proxy(upstream)) {
            upstream.route("GET /v2/team/app/blobs/" + digest, FaultyUpstream.fixed(200, "application/octet-stream", wrong, Map.of()));
            assertNoCompleteBody(proxy, digest, wrong.length);

            upstream.route("GET /v2/team/app/blobs/" + digest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
            assertArrayEquals(blob, get(proxy, digest).body(), "the right bytes pass whole");
        }
    }

    @Test
    void passThrough_wrongBytesWithoutALength_neverACompleteBody() throws Exception {
        byte[] blob = random(800 * 1024);
        Digest digest = Digest.sha256Of(blob);
        byte[] wrong = blob.clone();
        wrong[wrong.length / 2] ^= 1;
        try (FaultyUpstream upstream = new FaultyUpstream(); ProxyUnderTest proxy = proxy(upstream)) {
            upstream.route("GET /v2/team/app/blobs/" + digest, chunked(wrong));
            assertNoCompleteBody(proxy, digest, wrong.length);

            upstream.route("GET /v2/team/app/blobs/" + digest, chunked(blob));
            HttpResponse<byte[]> whole = get(proxy, digest);
            assertEquals(200, whole.statusCode());
            assertArrayEquals(blob, whole.body(), "the right bytes pass whole, without a length");
        }
    }

    @Test
    void passThrough_clientLeaves_upstreamTransferEndsAtOnce() throws Exception {
        Digest digest = Digest.sha256Of("stalls after 64 KiB".getBytes());
        CountDownLatch release = new CountDownLatch(1);
        try (FaultyUpstream upstream = new FaultyUpstream(); ProxyUnderTest proxy = proxy(upstream)) {
            upstream.route("GET /v2/team/app/blobs/" + digest, exchange -> {
                exchange.sendResponseHeaders(200, 1L << 30);
                OutputStream out = exchange.getResponseBody();
                out.write(new byte[64 * 1024]);
                out.flush();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new IOException("released");
            });
            try {
                HttpResponse<InputStream> response = HTTP.send(HttpRequest.newBuilder(
                        URI.create(proxy.url() + "/v2/team/app/blobs/" + digest)).build(), HttpResponse.BodyHandlers.ofInputStream());
                assertEquals(200, response.statusCode());
                Await.until(() -> proxy.metrics().scrape().contains("pullthrough_downloads_in_flight 1.0"), Duration.ofSeconds(10),
                        "the pass-through runs");
                response.body().close(); // the client leaves

                Await.until(() -> proxy.metrics().scrape().contains("pullthrough_downloads_in_flight 0.0"), Duration.ofSeconds(10),
                        "the upstream transfer ended with the client, long before the 60 s rate window");
            } finally {
                release.countDown();
            }
        }
    }

    private static void assertNoCompleteBody(ProxyUnderTest proxy, Digest digest, int length) throws Exception {
        try {
            HttpResponse<byte[]> response = get(proxy, digest);
            assertTrue(response.statusCode() != 200 || response.body().length < length,
                    "no complete body of wrong bytes: " + response.statusCode() + ", " + response.body().length + " bytes");
        } catch (IOException cut) {
            // the connection was closed before the body's end: what a client must see
        }
    }

    private static HttpResponse<byte[]> get(ProxyUnderTest proxy, Digest digest) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(proxy.url() + "/v2/team/app/blobs/" + digest))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static FaultyUpstream.Answer chunked(byte[] body) {
        return exchange -> {
            exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
            exchange.sendResponseHeaders(200, 0);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        };
    }

    private static byte[] random(int size) {
        byte[] bytes = new byte[size];
        new Random(size).nextBytes(bytes);
        return bytes;
    }
}
