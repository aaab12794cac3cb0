package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What an operator relies on: exact metrics, who may pull (htpasswd, mTLS), health endpoints. */
class OperationsTest {
    @TempDir
    Path temp;

    /** The value of one Prometheus sample, 0 when absent. */
    private static double sample(String scrape, String name, String labels) {
        Matcher m = Pattern.compile("^" + Pattern.quote(name + "{" + labels + "}") + " (\\S+)$", Pattern.MULTILINE).matcher(scrape);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    // ---------------------------------------------------------------- metrics

    @Test
    void metrics_coldThenWarmPull_exactHitMissAndByteCounts() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstream.url())) {
            Pushed image = new TestImages(upstream.url(), 81).pushImage("ops/app", "v1", Format.DOCKER, 2, 50_000);
            long blobBytes = 0;
            for (Digest blob : image.blobs()) {
                blobBytes += RegistryHttp.get(upstream.url(), "/v2/ops/app/blobs/" + blob).body().length;
            }
            long pullBytes = blobBytes + image.bytes().length;

            // Into dir: layouts, so skopeo fetches every blob each time (a registry destination that has
            // them already would let it skip them).
            Processes.runOk(120, Skopeo.BINARY, "--insecure-policy", "copy", "--src-tls-verify=false",
                    "docker://" + proxy.hostPort() + "/ops/app:v1", "dir:" + temp.resolve("cold"));
            String cold = new String(RegistryHttp.get(proxy.url(), "/metrics").body(), StandardCharsets.UTF_8);
            assertEquals(1, sample(cold, "pullthrough_cache_lookups_total", "kind=\"manifest\",result=\"miss\""));
            assertEquals(3, sample(cold, "pullthrough_cache_lookups_total", "kind=\"blob\",result=\"miss\""));
            assertEquals(0, sample(cold, "pullthrough_cache_lookups_total", "kind=\"blob\",result=\"hit\""));
            assertEquals(pullBytes, sample(cold, "pullthrough_served_bytes_total", "source=\"upstream\""));
            assertEquals(0, sample(cold, "pullthrough_served_bytes_total", "source=\"cache\""));

            Processes.runOk(120, Skopeo.BINARY, "--insecure-policy", "copy", "--src-tls-verify=false",
                    "docker://" + proxy.hostPort() + "/ops/app:v1", "dir:" + temp.resolve("warm"));
            String warm = new String(RegistryHttp.get(proxy.url(), "/metrics").body(), StandardCharsets.UTF_8);
            assertEquals(1, sample(warm, "pullthrough_cache_lookups_total", "kind=\"manifest\",result=\"hit\""));
            assertEquals(3, sample(warm, "pullthrough_cache_lookups_total", "kind=\"blob\",result=\"hit\""));
            assertEquals(3, sample(warm, "pullthrough_cache_lookups_total", "kind=\"blob\",result=\"miss\""), "no new miss");
            assertEquals(pullBytes, sample(warm, "pullthrough_served_bytes_total", "source=\"cache\""));
            assertEquals(pullBytes, sample(warm, "pullthrough_served_bytes_total", "source=\"upstream\""), "nothing more from upstream");
            assertEquals(3, sample(warm, "pullthrough_upstream_requests_total",
                    "kind=\"blob\",method=\"GET\",status=\"200\",upstream=\"docker.io\""));
            assertTrue(warm.contains("pullthrough_request_duration_seconds_bucket{route=\"blob\""), "latency histogram");
            assertTrue(warm.contains("jvm_memory_used_bytes"), "JVM metrics");
            assertTrue(warm.contains("pullthrough_netty_allocator_used_bytes{memory=\"direct\"}"), "Netty allocator metrics");
            assertTrue(warm.contains("pullthrough_cache_bound_bytes"), "disk bound");
        }
    }

    @Test
    void health_andReadiness() {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), java.net.URI.create("http://127.0.0.1:9"))) {
            assertEquals("ok\n", new String(RegistryHttp.get(proxy.url(), "/healthz").body(), StandardCharsets.UTF_8));
            assertEquals(200, RegistryHttp.get(proxy.url(), "/readyz").statusCode());
        }
    }

    // ---------------------------------------------------------------- htpasswd

    @Test
    void htpasswd_missingOrWrongCredentials401RightOnesPullAndNeverGoUpstream() throws Exception {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        Path htpasswd = temp.resolve("htpasswd");
        Files.writeString(htpasswd, "alice:" + OpenBSDBCrypt.generate("2y", "wonderland".toCharArray(), salt, 6) + "\n");
        byte[] manifest = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}"
                .getBytes(StandardCharsets.UTF_8);
        Map<String, String> seenUpstream = new ConcurrentHashMap<>();
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "auth:\n  htpasswd: " + htpasswd
                     + "\nupstreams:\n  - name: u\n    url: " + upstream.url() + "\n")) {
            upstream.route("GET /v2/users/app/manifests/v1", exchange -> {
                seenUpstream.put("authorization", String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
                FaultyUpstream.fixed(200, "application/vnd.oci.image.manifest.v1+json", manifest, Map.of()).answer(exchange);
            });

            for (String[] attempt : new String[][] {{}, {"Authorization", basic("alice", "nope")}, {"Authorization", basic("bob", "x")}}) {
                HttpResponse<byte[]> refused = RegistryHttp.get(proxy.url(), "/v2/users/app/manifests/v1", attempt);
                assertEquals(401, refused.statusCode());
                assertEquals("Basic realm=\"pullthrough\", charset=\"UTF-8\"", refused.headers().firstValue("WWW-Authenticate").orElseThrow());
                assertTrue(new String(refused.body(), StandardCharsets.UTF_8).contains("\"code\":\"UNAUTHORIZED\""));
            }
            assertEquals(401, RegistryHttp.get(proxy.url(), "/v2/").statusCode(), "the version check asks for credentials too");
            assertEquals(0, upstream.count("GET /v2/users/app/manifests/v1"), "refused requests never reach the upstream");

            HttpResponse<byte[]> allowed = RegistryHttp.get(proxy.url(), "/v2/users/app/manifests/v1",
                    "Authorization", basic("alice", "wonderland"), "Accept", "application/vnd.oci.image.manifest.v1+json");
            assertEquals(200, allowed.statusCode());
            assertEquals(Digest.sha256Of(manifest).toString(), allowed.headers().firstValue("Docker-Content-Digest").orElseThrow());
            assertEquals("null", seenUpstream.get("authorization"), "the proxy user's credentials are never forwarded");

            Processes.Result inspect = Processes.run(List.of(Skopeo.BINARY, "--insecure-policy", "inspect", "--raw", "--tls-verify=false",
                    "--creds", "alice:wonderland", "docker://" + proxy.hostPort() + "/users/app:v1"), 60);
            assertEquals(0, inspect.exitCode(), inspect.output());
            Processes.Result denied = Processes.run(List.of(Skopeo.BINARY, "--insecure-policy", "inspect", "--raw", "--tls-verify=false",
                    "docker://" + proxy.hostPort() + "/users/app:v1"), 60);
            assertNotEquals(0, denied.exitCode(), "skopeo without credentials is refused");
        }
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    // ---------------------------------------------------------------- mutual TLS

    @Test
    void mtls_clientWithoutCertificateFromCaRefused() throws Exception {
        TestPki testCa = TestPki.create(temp.resolve("pki"));
        Path pki = temp.resolve("pki");
        String ca = pki.resolve("ca").toString();
        testCa.issue("server", "subjectAltName=IP:127.0.0.1");
        testCa.issue("client", "extendedKeyUsage=clientAuth");
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: u\n    url: http://127.0.0.1:9\n"
                + "server:\n  tls:\n    certFile: " + pki.resolve("server.crt") + "\n    keyFile: " + pki.resolve("server.key")
                + "\n    clientCaFile: " + ca + ".crt\n")) {
            String url = "https://" + proxy.hostPort() + "/v2/";
            Processes.Result withCert = Processes.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca + ".crt",
                    "--cert", pki.resolve("client.crt").toString(), "--key", pki.resolve("client.key").toString(), url), 30);
            assertEquals("200", withCert.output().trim(), withCert.output());
            Processes.Result without = Processes.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                    "--cacert", ca + ".crt", url), 30);
            assertNotEquals(0, without.exitCode(), "a client without a certificate is refused: " + without.output());
            Path stranger = Files.createDirectories(temp.resolve("stranger"));
            Processes.runOk(60, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=stranger",
                    "-keyout", stranger.resolve("s.key").toString(), "-out", stranger.resolve("s.crt").toString());
            Processes.Result foreign = Processes.run(List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                    "--cacert", ca + ".crt", "--cert", stranger.resolve("s.crt").toString(), "--key", stranger.resolve("s.key").toString(),
                    url), 30);
            assertNotEquals(0, foreign.exitCode(), "a certificate from another CA is refused: " + foreign.output());
        }
    }

    @Test
    void check_printsTheEffectiveConfigWithSecretsMasked_andNamesTheKeyOfAMistake() throws Exception {
        Path config = temp.resolve("check.yml");
        Files.writeString(config, "upstreams:\n  - name: docker.io\n    url: https://registry-1.docker.io\n    default: true\n"
                + "    username: someone\n    password: very-secret-token\n");
        Processes.Result check = ProxyProcess.command(temp.resolve("data"), java.net.URI.create("http://127.0.0.1:9"),
                temp.resolve("check.log"), "check", "--config", config.toString());
        assertEquals(0, check.exitCode(), check.output());
        assertTrue(check.output().contains("password: (masked)") && !check.output().contains("very-secret-token"), check.output());
        assertTrue(check.output().contains("maxSize: 50GiB"), "defaults shown: " + check.output());
        // the harness's environment overrides (PULLTHROUGH_UPSTREAMS_0_URL) are part of the effective config
        assertTrue(check.output().contains("url: http://127.0.0.1:9"), check.output());

        Files.writeString(config, "storage:\n  maxSize: lots\n");
        Processes.Result mistake = ProxyProcess.command(temp.resolve("data"), java.net.URI.create("http://127.0.0.1:9"),
                temp.resolve("mistake.log"), "check", "--config", config.toString());
        assertEquals(2, mistake.exitCode(), mistake.output());
        assertTrue(mistake.output().contains("storage.maxSize"), mistake.output());
    }
}
