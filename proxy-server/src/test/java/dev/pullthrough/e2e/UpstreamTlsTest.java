package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every real upstream speaks HTTPS: the real registry serving TLS with a certificate from a private
 * test CA, and its token realm on HTTPS too. Trusted through {@code upstreams[].caFile}, images pull
 * through with their digests; without it, the client gets a clear 502 naming the host and the reason.
 */
class UpstreamTlsTest {
    @TempDir
    Path temp;

    @Test
    void tlsUpstream_privateCaInCaFile_pullsWithHttpsTokenRealm_untrustedIsClear502() throws Exception {
        TestPki pki = TestPki.create(temp.resolve("pki"));
        Path certificate = pki.issue("registry", "subjectAltName=IP:127.0.0.1");
        try (TokenServer tokens = new TokenServer(300, 0, pki.serverContext("registry"));
             ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ReferenceRegistry destination = ReferenceRegistry.start(temp.resolve("destination"))) {
            Pushed image = new TestImages(upstream.url(), 51).pushIndex("tls/app", "v1", Format.OCI, 1, 8192);
            upstream.stop();
            upstream.reconfigure(certificate, pki.key("registry"),
                    List.of("auth:", "  silly:", "    realm: " + tokens.realm(), "    service: tls-service"));
            upstream.start();
            assertTrue(upstream.url().toString().startsWith("https://127.0.0.1:"));
            assertTrue(tokens.realm().toString().startsWith("https://127.0.0.1:"));

            String yaml = "upstreams:\n  - name: secure.test\n    url: " + upstream.url() + "\n    default: true\n"
                    + "    username: puller\n    password: pw\n";
            try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("trusting"), yaml + "    caFile: " + pki.caCertificate() + "\n")) {
                Skopeo.copyAll(proxy.hostPort() + "/tls/app:v1", destination.hostPort() + "/tls/app:v1");
                HttpResponse<byte[]> copied = RegistryHttp.manifest(destination.url(), "tls/app", "v1");
                assertEquals(image.digest().toString(), copied.headers().firstValue("Docker-Content-Digest").orElseThrow());
                assertEquals(image.blobs().size(), proxy.upstreamRequests("blob", "GET"), "every blob came over TLS, once");
                assertTrue(tokens.requests().size() >= 1, "the token came from the HTTPS realm");
                assertEquals("Basic " + Base64.getEncoder().encodeToString("puller:pw".getBytes(StandardCharsets.UTF_8)),
                        tokens.requests().get(0).authorization(), "credentials go to a realm on the upstream's host over HTTPS");
            }

            try (ProxyUnderTest untrusting = ProxyUnderTest.start(temp.resolve("untrusting"), yaml)) {
                HttpResponse<byte[]> refused = RegistryHttp.manifest(untrusting.url(), "tls/app", "v1");
                String body = new String(refused.body(), StandardCharsets.UTF_8);
                assertEquals(502, refused.statusCode(), body);
                assertTrue(body.contains("\"code\":\"UPSTREAM_UNAVAILABLE\""), body);
                assertTrue(body.contains("TLS handshake with 127.0.0.1 failed"), "names the host and the reason: " + body);
                assertEquals(0, untrusting.upstreamRequests("blob", "GET"));
            }
        }
    }
}
