package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code upstreams[].fallback} end to end (issue 27): two real reference registries hold the same
 * image; the first sits behind our fault-injecting front that answers 429 for its blobs. skopeo's
 * pull through the proxy completes from the second, every digest right, the bytes counted for that
 * source, and the first got the blob requests it refused and nothing more. A fallback that corrupts
 * a blob is refused (nothing committed, no client gets the whole body) and the retry reaches the next.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FallbackSourcesE2ETest {
    private static final String REPOSITORY = "e2e/fallback-app";
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    static Path temp;

    private ReferenceRegistry first;
    private ReferenceRegistry second;
    private FaultyUpstream limiting;
    private FaultyUpstream corrupting;
    private Pushed image;

    @BeforeAll
    void startRegistries() {
        first = ReferenceRegistry.start(temp.resolve("first"));
        second = ReferenceRegistry.start(temp.resolve("second"));
        image = new TestImages(first.url(), 27).pushImage(REPOSITORY, "v1", Format.OCI, 2, 256 * 1024);
        Pushed copy = new TestImages(second.url(), 27).pushImage(REPOSITORY, "v1", Format.OCI, 2, 256 * 1024);
        assertEquals(image.digest(), copy.digest(), "both registries hold the same image");

        // The first registry's front: its manifests as they are, 429 for every blob.
        limiting = forwardingManifests(new FaultyUpstream(), first.url());
        for (Digest blob : image.blobs()) {
            FaultyUpstream.Answer tooMany = FaultyUpstream.fixed(429, "application/json",
                    "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"pull rate limit\"}]}".getBytes(), Map.of());
            limiting.route("GET /v2/" + REPOSITORY + "/blobs/" + blob, tooMany).route("HEAD /v2/" + REPOSITORY + "/blobs/" + blob, tooMany);
        }
        // A fallback in front of the second registry that sends wrong bytes (of the right length) for the last layer.
        corrupting = forwardingManifests(new FaultyUpstream(), second.url());
        Digest layer = image.blobs().get(image.blobs().size() - 1);
        byte[] wrong = get(second.url(), "/v2/" + REPOSITORY + "/blobs/" + layer);
        wrong[wrong.length / 2] ^= 0x01;
        corrupting.route("GET /v2/" + REPOSITORY + "/blobs/" + layer, FaultyUpstream.fixed(200, "application/octet-stream", wrong, Map.of()));
    }

    @AfterAll
    void stopAll() {
        for (AutoCloseable closeable : new AutoCloseable[] {limiting, corrupting, first, second}) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception ignored) {
                // the next one still closes
            }
        }
    }

    @Test
    void skopeoPull_firstRateLimitsBlobs_completesFromTheSecondEveryDigestRight() throws Exception {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy-a"), """
                upstreams:
                  - name: first.test
                    url: %s
                    default: true
                    fallback: [second.test]
                  - name: second.test
                    url: %s
                """.formatted(limiting.url(), second.url()))) {
            Path copy = temp.resolve("copied");
            Processes.runOk(180, Skopeo.BINARY, "--insecure-policy", "copy", "--retry-times", "0", "--src-tls-verify=false",
                    "docker://" + proxy.hostPort() + "/" + REPOSITORY + ":v1", "dir:" + copy);

            long bytes = 0;
            for (Digest blob : image.blobs()) {
                byte[] copied = Files.readAllBytes(copy.resolve(blob.hex()));
                assertTrue(blob.matches(copied), "blob " + blob + " arrived whole and right");
                bytes += copied.length;
                assertEquals(1, limiting.count("GET /v2/" + REPOSITORY + "/blobs/" + blob), "the refused GET of " + blob);
                assertEquals(0, limiting.count("HEAD /v2/" + REPOSITORY + "/blobs/" + blob), "no HEAD of " + blob);
            }
            assertArrayEquals(image.bytes(), Files.readAllBytes(copy.resolve("manifest.json")));
            assertEquals(bytes, proxy.metrics().sum("pullthrough_fallback_blob_bytes", "upstream", "first.test", "source", "second.test"));
            assertEquals(1, limiting.count("GET /v2/" + REPOSITORY + "/manifests/v1"), "the tag came from the first itself");
        }
    }

    @Test
    void blobGet_fallbackSendsWrongBytes_refusedThenTheRetryReachesTheNext() throws Exception {
        Digest layer = image.blobs().get(image.blobs().size() - 1);
        String path = "/v2/" + REPOSITORY + "/blobs/" + layer;
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy-b"), """
                upstreams:
                  - name: first.test
                    url: %s
                    default: true
                    fallback: [corrupting.test, second.test]
                  - name: corrupting.test
                    url: %s
                  - name: second.test
                    url: %s
                """.formatted(limiting.url(), corrupting.url(), second.url()))) {
            int limitedBefore = limiting.count("GET " + path);

            // The proxy streams as bytes arrive; the wrong ones are cut one byte short of their end.
            byte[] first = onceGet(proxy.hostPort(), path);
            assertFalse(layer.matches(first), "the first attempt, its source sending wrong bytes, fails");
            assertTrue(first.length < retriedLength(), "the body was cut short, not served whole: " + first.length + " bytes");
            assertFalse(Files.exists(temp.resolve("proxy-b").resolve("blobs/sha256/" + layer.hex().substring(0, 2) + "/" + layer.hex())),
                    "nothing committed from the wrong bytes");

            HttpResponse<byte[]> retried = HTTP.send(HttpRequest.newBuilder(proxy.url().resolve(path)).GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, retried.statusCode());
            assertTrue(layer.matches(retried.body()), "the retry got the right bytes");
            assertEquals(1, corrupting.count("GET " + path), "the source that sent wrong bytes was not asked again");
            assertEquals(2, limiting.count("GET " + path) - limitedBefore, "the first was asked each time, and refused");
            assertEquals(retried.body().length, proxy.metrics().sum("pullthrough_fallback_blob_bytes", "source", "second.test"));
            assertEquals(0, proxy.metrics().sum("pullthrough_fallback_blob_bytes", "source", "corrupting.test"));
        }
    }

    // ---------------------------------------------------------------- fixtures

    /** {@code front} passes the repository's manifest requests (tag and digests) on to {@code registry} as they are. */
    private FaultyUpstream forwardingManifests(FaultyUpstream front, URI registry) {
        List<String> references = new java.util.ArrayList<>(List.of("v1", image.digest().toString()));
        for (String reference : references) {
            for (String method : List.of("GET", "HEAD")) {
                front.route(method + " /v2/" + REPOSITORY + "/manifests/" + reference, exchange -> forward(exchange, registry));
            }
        }
        for (Digest blob : image.blobs()) {
            front.route("GET /v2/" + REPOSITORY + "/blobs/" + blob, exchange -> forward(exchange, registry));
        }
        return front;
    }

    private static void forward(HttpExchange exchange, URI registry) throws IOException {
        HttpRequest.Builder request = HttpRequest.newBuilder(registry.resolve(exchange.getRequestURI().getPath()))
                .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.noBody());
        exchange.getRequestHeaders().getOrDefault("Accept", List.of()).forEach(accept -> request.header("Accept", accept));
        HttpResponse<byte[]> answer;
        try {
            answer = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        for (String header : List.of("Content-Type", "Docker-Content-Digest")) {
            answer.headers().firstValue(header).ifPresent(value -> exchange.getResponseHeaders().set(header, value));
        }
        if (exchange.getRequestMethod().equals("HEAD")) {
            answer.headers().firstValue("Content-Length").ifPresent(value -> exchange.getResponseHeaders().set("Content-Length", value));
            exchange.sendResponseHeaders(answer.statusCode(), -1);
            return;
        }
        exchange.sendResponseHeaders(answer.statusCode(), answer.body().length == 0 ? -1 : answer.body().length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(answer.body());
        }
    }

    /**
     * What a 200 answer to one GET brought of its body before the connection ended (empty for any
     * other answer, or none). One attempt: the JDK's client sends a GET again by itself when the
     * connection closes before a response, which a download failing early may cause.
     */
    private static byte[] onceGet(String hostPort, String path) {
        String answer = RawHttp.exchange(hostPort, "GET " + path + " HTTP/1.1\r\nHost: " + hostPort + "\r\nConnection: close\r\n\r\n");
        int body = answer.indexOf("\r\n\r\n");
        return answer.startsWith("HTTP/1.1 200 ") && body >= 0
                ? answer.substring(body + 4).getBytes(StandardCharsets.ISO_8859_1) : new byte[0];
    }

    private long retriedLength() {
        return get(second.url(), "/v2/" + REPOSITORY + "/blobs/" + image.blobs().get(image.blobs().size() - 1)).length;
    }

    private static byte[] get(URI registry, String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(registry.resolve(path)).GET().build(), HttpResponse.BodyHandlers.ofByteArray()).body();
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
