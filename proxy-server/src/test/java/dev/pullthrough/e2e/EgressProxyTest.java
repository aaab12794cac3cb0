package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.testing.Loopback;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upstreams reached through an egress HTTP proxy (issue 27), Debian's tinyproxy with Basic auth:
 * by the {@code proxy} key, or by {@code HTTPS_PROXY}/{@code HTTP_PROXY}/{@code NO_PROXY} alone.
 * The registry, its token realm and a blob's redirect target all go through it (its log shows a
 * CONNECT to each); https targets keep their TLS inside the tunnel; a proxy that refuses is a 502
 * naming the proxy and its answer.
 */
class EgressProxyTest {
    private static final String USER = "egress";
    private static final String PASSWORD = "tunnel-s3cret";

    @TempDir
    Path temp;

    // ---------------------------------------------------------------- the proxy key

    @Test
    void proxyKey_registryAndTokenRealm_reachedOnlyThroughTinyproxy() throws Exception {
        try (TokenServer tokens = new TokenServer(300, 0);
             ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"))) {
            Pushed image = new TestImages(upstream.url(), 27).pushImage("egress/app", "v1", Format.OCI, 2, 16 * 1024);
            upstream.stop();
            upstream.reconfigure(null, null, List.of("auth:", "  silly:", "    realm: " + tokens.realm(), "    service: egress-service"));
            upstream.start();
            int registryPort = upstream.url().getPort();
            int realmPort = tokens.realm().getPort();
            try (Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), USER, PASSWORD, registryPort, realmPort)) {
                String yaml = "upstreams:\n  - name: egress.test\n    url: " + upstream.url() + "\n    default: true\n"
                        + "    proxy: " + egress.url(USER, PASSWORD) + "\n";
                try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), yaml)) {
                    pullAndVerify(proxy.url(), image);

                    assertTrue(egress.connectsTo(registryPort) >= 1, "the registry through the proxy: " + egress.connects());
                    assertTrue(egress.connectsTo(realmPort) >= 1, "the token realm through the proxy: " + egress.connects());
                    assertFalse(tokens.requests().isEmpty(), "the realm was reached");
                    assertEquals(List.of(), egress.connects().stream()
                            .filter(t -> !t.equals("127.0.0.1:" + registryPort) && !t.equals("127.0.0.1:" + realmPort)).toList());

                    // The proxy gone, nothing else reaches the registry: the route really is the proxy.
                    egress.close();
                    HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "egress/app", "v2");
                    String body = new String(refused.body(), StandardCharsets.UTF_8);
                    assertEquals(502, refused.statusCode(), body);
                    assertTrue(body.contains("egress proxy 127.0.0.1:" + egress.port() + " (upstreams[0].proxy) refused the connection"), body);
                }
            }
        }
    }

    @Test
    void proxyKey_blobRedirectTarget_alsoThroughTinyproxy() throws Exception {
        byte[] blob = new byte[48 * 1024];
        new Random(27).nextBytes(blob);
        Digest digest = Digest.sha256Of(blob);
        try (FaultyUpstream cdn = new FaultyUpstream(); FaultyUpstream registry = new FaultyUpstream()) {
            cdn.route("GET /cdn/" + digest, FaultyUpstream.fixed(200, "application/octet-stream", blob, Map.of()));
            registry.route("GET /v2/egress/app/blobs/" + digest, FaultyUpstream.fixed(307, "text/plain", new byte[0],
                    Map.of("Location", cdn.url() + "/cdn/" + digest)));
            int cdnPort = cdn.url().getPort();
            try (Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), USER, PASSWORD, registry.url().getPort(), cdnPort);
                 ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: egress.test\n    url: "
                         + registry.url() + "\n    default: true\n    proxy: " + egress.url(USER, PASSWORD) + "\n")) {
                HttpResponse<byte[]> pulled = RegistryHttp.get(proxy.url(), "/v2/egress/app/blobs/" + digest);

                assertEquals(200, pulled.statusCode(), new String(pulled.body(), StandardCharsets.UTF_8));
                assertArrayEquals(blob, pulled.body());
                assertEquals(1, cdn.count("GET /cdn/" + digest));
                assertEquals(1, egress.connectsTo(cdnPort), "the redirect target through the proxy: " + egress.connects());
                assertTrue(egress.connectsTo(registry.url().getPort()) >= 1, egress.connects().toString());
            }
        }
    }

    @Test
    void proxyKey_wrongProxyPassword_is502NamingTheProxyAndItsRefusal() throws Exception {
        try (FaultyUpstream registry = new FaultyUpstream();
             Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), USER, PASSWORD, 1);
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: egress.test\n    url: "
                     + registry.url() + "\n    default: true\n    proxy: " + egress.url(USER, "wrong-pw-42") + "\n")) {
            HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "egress/app", "v1");

            String body = new String(refused.body(), StandardCharsets.UTF_8);
            assertEquals(502, refused.statusCode(), body);
            assertTrue(body.startsWith("{\"errors\":[{\"code\":\"UPSTREAM_UNAVAILABLE\""), body);
            assertTrue(body.contains("egress proxy 127.0.0.1:" + egress.port() + " (upstreams[0].proxy) refused CONNECT to 127.0.0.1:"
                    + registry.url().getPort() + ": 40"), body);
            assertFalse(body.contains("wrong-pw-42"), "no password in errors: " + body);
            assertEquals(0, registry.count("GET /v2/"), "nothing reached the registry");
            assertEquals(0, registry.count("GET /v2/egress/app/manifests/v1"), "nothing reached the registry");
        }
    }

    @Test
    void proxyKey_connectPortNotAllowed_is502WithTheProxysAnswer() throws Exception {
        try (FaultyUpstream registry = new FaultyUpstream();
             Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), USER, PASSWORD, 1);
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: egress.test\n    url: "
                     + registry.url() + "\n    default: true\n    proxy: " + egress.url(USER, PASSWORD) + "\n")) {
            HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "egress/app", "v1");

            String body = new String(refused.body(), StandardCharsets.UTF_8);
            assertEquals(502, refused.statusCode(), body);
            assertTrue(body.contains("refused CONNECT to 127.0.0.1:" + registry.url().getPort() + ": 403 Access violation"), body);
            assertEquals(0, registry.count("GET /v2/egress/app/manifests/v1"));
        }
    }

    @Test
    void proxyKey_proxyNeverAnswersConnect_is502WithinConnectTimeoutNotTheResponseTimeout() throws Exception {
        try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 16, java.net.InetAddress.getLoopbackAddress());
             FaultyUpstream registry = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: egress.test\n    url: "
                     + registry.url() + "\n    default: true\n    connectTimeout: 2s\n    responseTimeout: 60s\n"
                     + "    proxy: http://127.0.0.1:" + silent.getLocalPort() + "\n")) {
            // The backlog accepts the connection; nothing ever reads the CONNECT or answers it.
            long started = System.nanoTime();
            HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "egress/app", "v1");
            long seconds = java.util.concurrent.TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);

            String body = new String(refused.body(), StandardCharsets.UTF_8);
            assertEquals(502, refused.statusCode(), body);
            assertTrue(body.contains("egress proxy 127.0.0.1:" + silent.getLocalPort() + " (upstreams[0].proxy) did not open the tunnel to 127.0.0.1:"
                    + registry.url().getPort() + " within 2s"), body);
            assertTrue(seconds < 45, "the proxy's deadline (2 s), not the 60 s response timeout: " + seconds + " s");
        }
    }

    // ---------------------------------------------------------------- HTTPS targets: CONNECT, TLS inside

    @Test
    void httpsUpstream_throughProxyKeyAndHttpsProxyVariable_tlsInsideConnect() throws Exception {
        TestPki pki = TestPki.create(temp.resolve("pki"));
        Path certificate = pki.issue("registry", "subjectAltName=IP:127.0.0.1");
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"))) {
            Pushed image = new TestImages(upstream.url(), 72).pushImage("secure/app", "v1", Format.DOCKER, 2, 8192);
            upstream.stop();
            upstream.reconfigure(certificate, pki.key("registry"), List.of());
            upstream.start();
            int registryPort = upstream.url().getPort();
            try (Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), USER, PASSWORD, registryPort)) {
                String yaml = "upstreams:\n  - name: secure.test\n    url: " + upstream.url() + "\n    default: true\n"
                        + "    caFile: " + pki.caCertificate() + "\n";
                try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("by-key"), yaml + "    proxy: " + egress.url(USER, PASSWORD) + "\n")) {
                    pullAndVerify(proxy.url(), image);
                }
                long byKey = egress.connectsTo(registryPort);
                assertTrue(byKey >= 1, "CONNECT to the https registry: " + egress.log());

                try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("by-variable"), yaml,
                        Map.of("HTTPS_PROXY", egress.url(USER, PASSWORD), "NO_PROXY", "localhost,example.com"))) {
                    pullAndVerify(proxy.url(), image);
                }
                assertTrue(egress.connectsTo(registryPort) > byKey, "HTTPS_PROXY alone: through the proxy too: " + egress.connects());
            }
        }
    }

    // ---------------------------------------------------------------- the variables alone

    @Test
    void httpProxyVariable_throughTinyproxy_hostInNoProxyReachedDirectly() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"))) {
            Pushed image = new TestImages(upstream.url(), 270).pushImage("plain/app", "v1", Format.OCI, 1, 8192);
            int registryPort = upstream.url().getPort();
            String yaml = "upstreams:\n  - name: plain.test\n    url: " + upstream.url() + "\n    default: true\n";
            try (Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), USER, PASSWORD, registryPort)) {
                try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxied"), yaml,
                        Map.of("HTTP_PROXY", egress.url(USER, PASSWORD)))) {
                    pullAndVerify(proxy.url(), image);
                }
                long proxied = egress.connectsTo(registryPort);
                assertTrue(proxied >= 1, "HTTP_PROXY: through the proxy: " + egress.log());

                try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("exempt"), yaml,
                        Map.of("http_proxy", egress.url(USER, PASSWORD), "no_proxy", "localhost, 127.0.0.1:" + registryPort))) {
                    pullAndVerify(proxy.url(), image);
                }
                assertEquals(proxied, egress.connectsTo(registryPort), "a NO_PROXY host is reached directly: " + egress.connects());
            }
        }
    }

    @Test
    void httpProxyVariable_ofTheServeProcess_wrongPassword_every502NamesIt_loggedOnce_passwordNowhere() throws Exception {
        String wrong = "wrong-pw-77";
        Path log = temp.resolve("serve.log");
        try (FaultyUpstream registry = new FaultyUpstream();
             Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), USER, PASSWORD, registry.url().getPort());
             ProxyProcess proxy = ProxyProcess.serve(temp.resolve("data"), registry.url(), Loopback.freePort(), log,
                     Map.of("HTTP_PROXY", egress.url(USER, wrong)))) {
            int burst = 5;
            for (int i = 0; i < burst; i++) {
                HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "egress/app", "v" + i);
                String body = new String(refused.body(), StandardCharsets.UTF_8);
                assertEquals(502, refused.statusCode(), body);
                assertTrue(body.contains("egress proxy 127.0.0.1:" + egress.port() + " (HTTP_PROXY) refused CONNECT"), body);
                assertFalse(body.contains(wrong), body);
            }

            assertEquals(burst, egress.connectsTo(registry.url().getPort()), "the variable of the process environment was used");
            assertEquals(0, registry.count("GET /v2/"), "nothing reached the registry");
            String logged = Files.readString(log);
            assertEquals(1, logged.split("refused CONNECT", -1).length - 1, "once per burst: " + logged);
            assertFalse(logged.contains(wrong), "no password in the log: " + logged);
            assertTrue(logged.contains("http via http://" + USER + "@127.0.0.1:" + egress.port() + " (HTTP_PROXY)"),
                    "the start-up line names the route: " + logged);
        }
    }

    @Test
    void check_proxyPasswordMasked() {
        Processes.Result checked = ProxyProcess.commandLikeReadme(temp.resolve("data"),
                "upstreams:\n  - name: egress.test\n    url: https://registry.example\n    proxy: http://user:hunter2-proxy@egress.internal:3128\n",
                temp.resolve("check.log"), "check");

        assertEquals(0, checked.exitCode(), checked.output());
        assertTrue(checked.output().contains("user@egress.internal:3128"), checked.output());
        assertFalse(checked.output().contains("hunter2-proxy"), checked.output());
    }

    // ---------------------------------------------------------------- helpers

    /** The manifest and every blob of {@code image} through the proxy, each checked against its digest. */
    private static void pullAndVerify(URI proxy, Pushed image) {
        HttpResponse<byte[]> manifest = RegistryHttp.manifest(proxy, image.repository(), image.tag());
        assertEquals(200, manifest.statusCode(), new String(manifest.body(), StandardCharsets.UTF_8));
        assertEquals(image.digest(), Digest.sha256Of(manifest.body()));
        for (Digest blob : image.blobs()) {
            HttpResponse<byte[]> pulled = RegistryHttp.get(proxy, "/v2/" + image.repository() + "/blobs/" + blob);
            assertEquals(200, pulled.statusCode(), new String(pulled.body(), StandardCharsets.UTF_8));
            assertEquals(blob, Digest.sha256Of(pulled.body()));
        }
    }
}
