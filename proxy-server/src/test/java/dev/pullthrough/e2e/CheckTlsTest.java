package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.app.ProxyCore;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.upstream.CheckStep;
import dev.pullthrough.upstream.UpstreamCheck;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TLS step of the upstream check when it works (issue 27): the real registry on HTTPS with a
 * certificate of a private CA named in {@code caFile}, reached directly and through tinyproxy (the
 * handshake then runs inside the tunnel, as for pulls); the step names the verified certificate.
 */
class CheckTlsTest {
    @TempDir
    Path temp;

    @Test
    void check_httpsRegistryWithCaFile_directAndThroughTheTunnel_tlsVerified() throws Exception {
        TestPki pki = TestPki.create(temp.resolve("pki"));
        Path certificate = pki.issue("registry", "subjectAltName=IP:127.0.0.1");
        try (ReferenceRegistry registry = ReferenceRegistry.start(temp.resolve("registry"))) {
            registry.stop();
            registry.reconfigure(certificate, pki.key("registry"), List.of());
            registry.start();
            try (Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), "egress", "egress-pw-5", registry.url().getPort())) {
                String trust = "    caFile: " + pki.caCertificate() + "\n";
                List<UpstreamCheck> checks = ProxyCore.checkUpstreams(ConfigLoader.fromYaml("upstreams:\n"
                        + "  - name: direct\n    url: " + registry.url() + "\n    default: true\n" + trust
                        + "  - name: tunnelled\n    url: " + registry.url() + "\n" + trust
                        + "    proxy: " + egress.url("egress", "egress-pw-5") + "\n", Map.of()));

                for (UpstreamCheck check : checks) {
                    assertTrue(check.passed(), check.toString());
                    CheckStep tls = check.steps().get(3);
                    assertTrue(tls.detail().matches("TLSv1\\.[23] verified; certificate CN=registry issued by CN=test-ca, valid until .*"),
                            tls.detail());
                    assertTrue(check.steps().get(4).detail().startsWith("200: GET /v2/ asks for no credentials"), check.toString());
                }
                assertTrue(checks.get(1).steps().get(2).detail().contains("opened a tunnel"), checks.get(1).toString());
                assertTrue(egress.connectsTo(registry.url().getPort()) >= 2, "the route probe and GET /v2/ both tunnelled: "
                        + egress.connects());
            }
        }
    }
}
