package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** TLS on the listener (real skopeo verifying a CA made here) and the client address allow-list. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ListenerSecurityTest {
    @TempDir
    static Path temp;

    private ReferenceRegistry upstream;
    private ReferenceRegistry destination;
    private Pushed image;

    @BeforeAll
    void start() {
        upstream = ReferenceRegistry.start(temp.resolve("upstream"));
        destination = ReferenceRegistry.start(temp.resolve("destination"));
        image = new TestImages(upstream.url(), 11).pushImage("sec/app", "v1", Format.DOCKER, 1, 50_000);
    }

    @AfterAll
    void stop() {
        upstream.close();
        destination.close();
    }

    @Test
    void tls_skopeoWithCaDirectory_pullsThroughTlsListener() throws Exception {
        Path certs = Files.createDirectories(temp.resolve("certs"));
        Processes.runOk(60, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-keyout", certs.resolve("key.pem").toString(), "-out", certs.resolve("cert.pem").toString(),
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1");
        Path caDir = Files.createDirectories(temp.resolve("ca"));
        Files.copy(certs.resolve("cert.pem"), caDir.resolve("ca.crt"));
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("tls-proxy"),
                "upstreams:\n  - name: docker.io\n    url: " + upstream.url() + "\nserver:\n  tls:\n    certFile: "
                        + certs.resolve("cert.pem") + "\n    keyFile: " + certs.resolve("key.pem") + "\n")) {
            Processes.runOk(120, Skopeo.BINARY, "--insecure-policy", "copy", "--all",
                    "--src-cert-dir", caDir.toString(), "--dest-tls-verify=false",
                    "docker://" + proxy.hostPort() + "/sec/app:v1", "docker://" + destination.hostPort() + "/tls/app:v1");

            HttpResponse<byte[]> copied = RegistryHttp.manifest(destination.url(), "tls/app", "v1");
            assertEquals(image.digest().toString(), copied.headers().firstValue("Docker-Content-Digest").orElseThrow());
            // Without the CA, verification fails: the listener really is TLS with that certificate.
            Processes.Result untrusted = Processes.run(java.util.List.of(Skopeo.BINARY, "--insecure-policy", "inspect", "--raw",
                    "docker://" + proxy.hostPort() + "/sec/app:v1"), 60);
            assertTrue(untrusted.exitCode() != 0 && untrusted.output().contains("certificate"), untrusted.output());
        }
    }

    @Test
    void allowCidrs_clientOutsideList_refusedWith403() {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("cidr-proxy"),
                "upstreams:\n  - name: docker.io\n    url: " + upstream.url() + "\nauth:\n  allowCidrs: [\"10.0.0.0/8\"]\n")) {
            HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "sec/app", "v1");
            assertEquals(403, refused.statusCode());
            assertTrue(new String(refused.body(), StandardCharsets.UTF_8).contains("\"code\":\"DENIED\""));
            assertEquals(0, (long) proxy.metrics().sum("pullthrough_upstream_requests"));
        }
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("cidr-proxy2"),
                "upstreams:\n  - name: docker.io\n    url: " + upstream.url() + "\nauth:\n  allowCidrs: [\"127.0.0.0/8\"]\n")) {
            assertEquals(200, RegistryHttp.manifest(proxy.url(), "sec/app", "v1").statusCode());
        }
    }
}
