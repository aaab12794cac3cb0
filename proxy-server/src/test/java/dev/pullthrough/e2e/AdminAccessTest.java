package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.testing.Loopback;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin endpoints answer only the addresses of {@code admin.allowCidrs} (default: this machine):
 * a client refused there cannot make the proxy pull through {@code POST /prefetch}. Health checks
 * stay open to everyone.
 */
class AdminAccessTest {
    @TempDir
    Path temp;

    @Test
    void admin_clientOutsideAdminCidrs_refusedButHealthOpen() {
        try (FaultyUpstream upstream = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: u\n    url: " + upstream.url()
                     + "\nadmin:\n  allowCidrs: [\"10.9.0.0/16\"]\n")) {
            HttpResponse<byte[]> metrics = RegistryHttp.get(proxy.url(), "/metrics");
            assertEquals(403, metrics.statusCode());
            assertTrue(new String(metrics.body(), StandardCharsets.UTF_8).contains("admin.allowCidrs"));
            HttpResponse<byte[]> prefetch = RegistryHttp.method(proxy.url(), "POST", "/prefetch?image=team/app:v1");
            assertEquals(403, prefetch.statusCode());
            assertEquals(0, upstream.count("GET /v2/team/app/manifests/v1"), "nothing was pulled for a refused client");
            assertEquals(200, RegistryHttp.get(proxy.url(), "/healthz").statusCode());
            assertEquals(200, RegistryHttp.get(proxy.url(), "/readyz").statusCode());
            assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/").statusCode(), "pulling is not an admin matter");
        }
    }

    @Test
    void adminPortOfItsOwn_htpasswdUsersApplyThereToo() throws Exception {
        byte[] salt = new byte[16];
        new java.security.SecureRandom().nextBytes(salt);
        Path htpasswd = temp.resolve("htpasswd");
        java.nio.file.Files.writeString(htpasswd, "alice:"
                + org.bouncycastle.crypto.generators.OpenBSDBCrypt.generate("2y", "wonderland".toCharArray(), salt, 6) + "\n");
        int adminPort = Loopback.freePort();
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: u\n    url: http://127.0.0.1:9\n"
                + "auth:\n  htpasswd: " + htpasswd + "\n", Loopback.freePort(), adminPort)) {
            java.net.URI admin = java.net.URI.create("http://127.0.0.1:" + adminPort);
            assertEquals(401, RegistryHttp.get(admin, "/metrics").statusCode(), "no credentials");
            assertEquals(401, RegistryHttp.get(admin, "/metrics", "Authorization", "Basic "
                    + java.util.Base64.getEncoder().encodeToString("alice:nope".getBytes(StandardCharsets.UTF_8))).statusCode());
            HttpResponse<byte[]> allowed = RegistryHttp.get(admin, "/metrics", "Authorization", "Basic "
                    + java.util.Base64.getEncoder().encodeToString("alice:wonderland".getBytes(StandardCharsets.UTF_8)));
            assertEquals(200, allowed.statusCode());
            assertTrue(new String(allowed.body(), StandardCharsets.UTF_8).contains("pullthrough_cache_bound_bytes"));
            assertEquals(200, RegistryHttp.get(admin, "/healthz").statusCode(), "health needs no credentials");
        }
    }
}
