package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Credentials follow a redirect only to the upstream's own origin, scheme included (issue 26, hole 7:
 * {@code https://[::ffff:127.0.0.1]} redirecting to {@code http://[::ffff:127.0.0.1]/...} got the
 * Basic credentials in clear text, because host and port matched).
 */
class RedirectCredentialsTest {
    private static final String BASIC = "Basic " + Base64.getEncoder().encodeToString("puller:s3cret".getBytes(StandardCharsets.UTF_8));

    @TempDir
    Path temp;

    /** The upstream's port, for the redirects it writes (known once it listens). */
    private volatile int port;

    @Test
    void blob_httpsUpstreamRedirectsToHttpOnSameHostAndPort_noCredentialsInClearText() throws Exception {
        TestPki pki = TestPki.create(temp.resolve("pki"));
        pki.issue("registry", "subjectAltName=IP:127.0.0.1");
        byte[] blob = new byte[32 * 1024];
        new Random(26).nextBytes(blob);
        Digest digest = Digest.sha256Of(blob);
        String blobPath = "/v2/test/app/blobs/" + digest;
        try (MixedSchemeUpstream upstream = new MixedSchemeUpstream(pki.pkcs12("registry"), request -> {
            if (!request.tls()) {
                // The "CDN" on plain HTTP: it serves anyone, and records what it was sent.
                return request.path().equals("/cdn/" + digest) ? new MixedSchemeUpstream.Answer(200,
                        Map.of("Content-Type", "application/octet-stream"), blob) : notFound();
            }
            if (!BASIC.equals(request.authorization())) {
                return new MixedSchemeUpstream.Answer(401, Map.of("WWW-Authenticate", "Basic realm=\"registry\""), new byte[0]);
            }
            if (request.path().equals(blobPath)) {
                // The same host and port as the upstream, by plain HTTP: only the scheme differs.
                return new MixedSchemeUpstream.Answer(307, Map.of("Location", "http://127.0.0.1:" + port + "/cdn/" + digest),
                        new byte[0]);
            }
            return request.path().equals("/v2/") ? new MixedSchemeUpstream.Answer(200, Map.of(), "{}".getBytes()) : notFound();
        })) {
            port = upstream.port();
            String yaml = "upstreams:\n  - name: secure.test\n    url: https://127.0.0.1:" + upstream.port() + "\n    default: true\n"
                    + "    username: puller\n    password: s3cret\n    caFile: " + pki.caCertificate() + "\n";
            try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), yaml)) {
                HttpResponse<byte[]> pulled = RegistryHttp.get(proxy.url(), blobPath);

                assertEquals(200, pulled.statusCode(), new String(pulled.body(), StandardCharsets.UTF_8));
                assertArrayEquals(blob, pulled.body());
                List<MixedSchemeUpstream.Request> plain = upstream.requests().stream().filter(r -> !r.tls()).toList();
                assertEquals(1, plain.size(), "the blob came from the plain-HTTP target: " + upstream.requests());
                assertNull(plain.get(0).authorization(), "no credentials over plain HTTP");
                assertTrue(upstream.requests().stream().anyMatch(r -> r.tls() && BASIC.equals(r.authorization())),
                        "the HTTPS origin itself did get them");
            }
        }
    }

    private static MixedSchemeUpstream.Answer notFound() {
        return new MixedSchemeUpstream.Answer(404, Map.of("Content-Type", "application/json"),
                "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}".getBytes(StandardCharsets.UTF_8));
    }
}
