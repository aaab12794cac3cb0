package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The pull API on the wire, against the real registry as upstream: headers, errors, bad input. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProtocolTest {
    @TempDir
    static Path temp;

    private ReferenceRegistry upstream;
    private ProxyUnderTest proxy;
    private Pushed image;

    @BeforeAll
    void start() {
        upstream = ReferenceRegistry.start(temp.resolve("upstream"));
        image = new TestImages(upstream.url(), 3).pushImage("proto/app", "v1", Format.OCI, 1, 100_000);
        proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstream.url());
    }

    @AfterAll
    void stop() {
        proxy.close();
        upstream.close();
    }

    private long upstreamRequests() {
        return (long) proxy.metrics().sum("pullthrough_upstream_requests");
    }

    // ---------------------------------------------------------------- headers clients depend on

    @Test
    void base_answersWithApiVersion() {
        HttpResponse<byte[]> base = RegistryHttp.get(proxy.url(), "/v2/");
        assertEquals(200, base.statusCode());
        assertEquals("registry/2.0", base.headers().firstValue("Docker-Distribution-API-Version").orElseThrow());
    }

    @Test
    void manifest_getAndHead_sameHeadersExactTypeNoBodyOnHead() {
        String accept = String.join(", ", RegistryHttp.ALL_MANIFEST_TYPES);
        HttpResponse<byte[]> get = RegistryHttp.get(proxy.url(), "/v2/proto/app/manifests/v1", "Accept", accept);
        HttpResponse<byte[]> head = RegistryHttp.head(proxy.url(), "/v2/proto/app/manifests/v1", "Accept", accept);

        assertEquals(200, get.statusCode());
        assertArrayEquals(image.bytes(), get.body());
        for (HttpResponse<byte[]> r : java.util.List.of(get, head)) {
            assertEquals(image.mediaType(), r.headers().firstValue("Content-Type").orElseThrow());
            assertEquals(image.digest().toString(), r.headers().firstValue("Docker-Content-Digest").orElseThrow());
            assertEquals(String.valueOf(image.bytes().length), r.headers().firstValue("Content-Length").orElseThrow());
            assertFalse(r.headers().firstValue("Content-Encoding").isPresent());
            assertFalse(r.headers().firstValue("Transfer-Encoding").isPresent());
        }
        assertEquals(0, head.body().length);
    }

    @Test
    void blob_getAndHead_lengthDigestAndExactBytes() {
        Digest layer = image.blobs().get(1);
        HttpResponse<byte[]> cold = RegistryHttp.get(proxy.url(), "/v2/proto/app/blobs/" + layer);
        HttpResponse<byte[]> warm = RegistryHttp.get(proxy.url(), "/v2/proto/app/blobs/" + layer);
        HttpResponse<byte[]> head = RegistryHttp.head(proxy.url(), "/v2/proto/app/blobs/" + layer);

        HttpResponse<byte[]> direct = RegistryHttp.get(upstream.url(), "/v2/proto/app/blobs/" + layer);
        for (HttpResponse<byte[]> r : java.util.List.of(cold, warm)) {
            assertEquals(200, r.statusCode());
            assertArrayEquals(direct.body(), r.body());
            assertEquals(layer, Digest.sha256Of(r.body()));
        }
        for (HttpResponse<byte[]> r : java.util.List.of(cold, warm, head)) {
            assertEquals("application/octet-stream", r.headers().firstValue("Content-Type").orElseThrow());
            assertEquals(String.valueOf(direct.body().length), r.headers().firstValue("Content-Length").orElseThrow());
            assertEquals(layer.toString(), r.headers().firstValue("Docker-Content-Digest").orElseThrow());
            assertFalse(r.headers().firstValue("Transfer-Encoding").isPresent());
        }
        assertEquals(0, head.body().length);
    }

    @Test
    void tagsList_passedThrough() {
        HttpResponse<byte[]> tags = RegistryHttp.get(proxy.url(), "/v2/proto/app/tags/list");
        assertEquals(200, tags.statusCode());
        assertEquals("{\"name\":\"proto/app\",\"tags\":[\"v1\"]}", new String(tags.body(), StandardCharsets.UTF_8).trim());
    }

    @Test
    void unknownManifestAndBlob_ociErrorWith404() {
        HttpResponse<byte[]> manifest = RegistryHttp.get(proxy.url(), "/v2/proto/app/manifests/nope");
        assertEquals(404, manifest.statusCode());
        assertTrue(new String(manifest.body(), StandardCharsets.UTF_8).startsWith("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\""));
        HttpResponse<byte[]> blob = RegistryHttp.get(proxy.url(), "/v2/proto/app/blobs/sha256:" + "0".repeat(64));
        assertEquals(404, blob.statusCode());
        assertTrue(new String(blob.body(), StandardCharsets.UTF_8).contains("\"code\":\"BLOB_UNKNOWN\""));
    }

    // ---------------------------------------------------------------- bad input never reaches the upstream

    @ParameterizedTest
    @ValueSource(strings = {
        "/v2/Proto/app/manifests/v1",
        "/v2/proto/%2e%2e/app/manifests/v1",
        "/v2/proto/app/blobs/sha256:abc",
        "/v2/proto/app/blobs/sha256:" + "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
        "/v2/proto/app/blobs/md5:00"})
    void badInput_400WithoutUpstreamRequest(String path) {
        long before = upstreamRequests();
        HttpResponse<byte[]> response = RegistryHttp.get(proxy.url(), path);
        assertEquals(400, response.statusCode());
        String body = new String(response.body(), StandardCharsets.UTF_8);
        assertTrue(body.contains("\"code\":\"NAME_INVALID\"") || body.contains("\"code\":\"DIGEST_INVALID\""), body);
        assertEquals("application/json", response.headers().firstValue("Content-Type").orElseThrow());
        assertEquals(before, upstreamRequests());
    }

    @ParameterizedTest
    @ValueSource(strings = {".INVALID_MANIFEST_NAME", "sha256:abc", "-dash"})
    void manifestReferenceNeitherTagNorDigest_404WithoutUpstreamRequest(String reference) {
        long before = upstreamRequests();
        HttpResponse<byte[]> response = RegistryHttp.get(proxy.url(), "/v2/proto/app/manifests/" + reference);
        assertEquals(404, response.statusCode());
        assertTrue(new String(response.body(), StandardCharsets.UTF_8).contains("\"code\":\"MANIFEST_UNKNOWN\""));
        assertEquals("application/json", response.headers().firstValue("Content-Type").orElseThrow());
        assertEquals(before, upstreamRequests());
    }

    @ParameterizedTest
    @ValueSource(strings = {"PUT", "POST", "PATCH", "DELETE"})
    void push_405Unsupported(String method) {
        HttpResponse<byte[]> response = RegistryHttp.method(proxy.url(), method, "/v2/proto/app/manifests/v1");
        assertEquals(405, response.statusCode());
        assertTrue(new String(response.body(), StandardCharsets.UTF_8).contains("\"code\":\"UNSUPPORTED\""));
    }

    @Test
    void oversizedRequestLine_414AndServerStaysUp() {
        String raw = RawHttp.exchange(proxy.hostPort(), "GET /v2/" + "a".repeat(20_000) + "/manifests/v1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assertTrue(raw.startsWith("HTTP/1.1 414"), raw.lines().findFirst().orElse(raw));
        assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/").statusCode());
    }

    @Test
    void oversizedHeaders_431AndServerStaysUp() {
        String raw = RawHttp.exchange(proxy.hostPort(), "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(40_000) + "\r\n\r\n");
        assertTrue(raw.startsWith("HTTP/1.1 431"), raw.lines().findFirst().orElse(raw));
        assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/").statusCode());
    }

    @Test
    void garbageRequest_400AndServerStaysUp() {
        String raw = RawHttp.exchange(proxy.hostPort(), "\u0001\u0002 nonsense\r\n\r\n");
        assertTrue(raw.isEmpty() || raw.startsWith("HTTP/1.1 400"), raw);
        assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/").statusCode());
    }

    @Test
    void pipelinedRequests_answeredInOrder() {
        String accept = String.join(", ", RegistryHttp.ALL_MANIFEST_TYPES);
        String unknownBlob = "sha256:" + "0".repeat(64);
        // Three requests in one write: a manifest (answered off the event loop), an unknown blob, the base.
        String raw = RawHttp.exchange(proxy.hostPort(),
                "GET /v2/proto/app/manifests/v1 HTTP/1.1\r\nHost: x\r\nAccept: " + accept + "\r\n\r\n"
                        + "GET /v2/proto/app/blobs/" + unknownBlob + " HTTP/1.1\r\nHost: x\r\n\r\n"
                        + "GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

        // A body has no line end of its own: the next status line follows it directly.
        List<String> statuses = Pattern.compile("HTTP/1\\.1 (\\d{3}) ").matcher(raw).results().map(m -> m.group(1)).toList();
        assertEquals(List.of("200", "404", "200"), statuses, raw);
        int manifest = raw.indexOf("Docker-Content-Digest: " + image.digest());
        int blobError = raw.indexOf("BLOB_UNKNOWN");
        assertTrue(manifest > 0 && blobError > manifest, raw);
        assertTrue(raw.endsWith("{}"), raw);
    }
}
