package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real reference registry behind Basic auth (htpasswd) and behind a token service, as upstream. */
class UpstreamAuthTest {
    @TempDir
    Path temp;

    // ---------------------------------------------------------------- htpasswd (Basic)

    private ReferenceRegistry basicAuthRegistry(Path dir, String user, String password) throws Exception {
        Files.createDirectories(dir);
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        Path htpasswd = dir.resolve("htpasswd");
        Files.writeString(htpasswd, user + ":" + OpenBSDBCrypt.generate("2a", password.toCharArray(), salt, 6) + "\n");
        return ReferenceRegistry.start(dir, List.of("auth:", "  htpasswd:", "    realm: basic-realm", "    path: " + htpasswd));
    }

    private static String upstreamYaml(java.net.URI url, String user, String password) {
        return "upstreams:\n  - name: docker.io\n    url: " + url + "\n    username: " + user + "\n    password: " + password + "\n";
    }

    @Test
    void basicAuthUpstream_rightCredentials_skopeoPulls() throws Exception {
        try (ReferenceRegistry upstream = basicAuthRegistry(temp.resolve("upstream"), "puller", "s3cret");
             ReferenceRegistry destination = ReferenceRegistry.start(temp.resolve("destination"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstreamYaml(upstream.url(), "puller", "s3cret"))) {
            Pushed image = pushWithBasic(upstream, "puller", "s3cret");

            Skopeo.copyAll(proxy.hostPort() + "/auth/app:v1", destination.hostPort() + "/auth/app:v1");
            HttpResponse<byte[]> copied = RegistryHttp.manifest(destination.url(), "auth/app", "v1");
            assertEquals(image.digest().toString(), copied.headers().firstValue("Docker-Content-Digest").orElseThrow());
        }
    }

    @Test
    void basicAuthUpstream_wrongCredentials_clearOciErrorNotAHang() throws Exception {
        try (ReferenceRegistry upstream = basicAuthRegistry(temp.resolve("upstream"), "puller", "s3cret");
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstreamYaml(upstream.url(), "puller", "wrong"))) {
            pushWithBasic(upstream, "puller", "s3cret");
            long started = System.nanoTime();
            HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "auth/app", "v1");
            assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started) < 10, "answered promptly");
            assertEquals(401, refused.statusCode());
            String body = new String(refused.body(), StandardCharsets.UTF_8);
            assertTrue(body.startsWith("{\"errors\":[{\"code\":\"UNAUTHORIZED\""), body);
            assertTrue(body.contains("refused the proxy's credentials"), body);
            assertEquals(2, upstream.requests("GET", "/v2/auth/app/manifests/v1"), "one try, one retry with Basic, no loop");
        }
    }

    /** The registry wants Basic for pushes too: push through an authenticated copy of the image helper. */
    private Pushed pushWithBasic(ReferenceRegistry upstream, String user, String password) {
        String auth = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        return new TestImages(upstream.url(), 41, auth).pushImage("auth/app", "v1", Format.DOCKER, 1, 8192);
    }

    // ---------------------------------------------------------------- token (Bearer challenge)

    @Test
    void tokenUpstream_followsChallengeWithRightScopeAndReusesToken() throws Exception {
        try (TokenServer tokens = new TokenServer(300, 0);
             ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"), List.of(
                     "auth:", "  silly:", "    realm: " + tokens.realm(), "    service: silly-service"));
             ReferenceRegistry destination = ReferenceRegistry.start(temp.resolve("destination"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstreamYaml(upstream.url(), "puller", "pw"))) {
            Pushed image = new TestImages(upstream.url(), 42, "Bearer anything").pushImage("tok/app", "v1", Format.OCI, 2, 8192);

            Skopeo.copyAll(proxy.hostPort() + "/tok/app:v1", destination.hostPort() + "/tok/app:v1");

            assertEquals(image.digest().toString(), RegistryHttp.manifest(destination.url(), "tok/app", "v1")
                    .headers().firstValue("Docker-Content-Digest").orElseThrow());
            assertEquals(1, tokens.requests().size(), "one token for the manifest and all three blobs");
            TokenServer.Request request = tokens.requests().get(0);
            assertEquals("repository:tok/app:pull", request.query().get("scope"));
            assertEquals("silly-service", request.query().get("service"));
            assertEquals("Basic " + Base64.getEncoder().encodeToString("puller:pw".getBytes(StandardCharsets.UTF_8)),
                    request.authorization(), "configured credentials go to a token realm on the upstream's host");
        }
    }

    @Test
    void tokenUpstream_tokenExpires_renewed() throws Exception {
        try (TokenServer tokens = new TokenServer(2, 0);
             ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"), List.of(
                     "auth:", "  silly:", "    realm: " + tokens.realm(), "    service: silly-service"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: docker.io\n    url: "
                     + upstream.url() + "\n    tagTtl: 1ms\n")) {
            new TestImages(upstream.url(), 43, "Bearer anything").pushImage("tok/app", "v1", Format.OCI, 1, 1024);

            assertEquals(200, RegistryHttp.manifest(proxy.url(), "tok/app", "v1").statusCode());
            assertEquals(200, RegistryHttp.manifest(proxy.url(), "tok/app", "v1").statusCode());
            assertEquals(1, tokens.requests().size(), "reused while valid");
            // Every pull asks the upstream (tagTtl 1ms) with the token, until it expires (2 s) and is renewed.
            Await.until(() -> RegistryHttp.manifest(proxy.url(), "tok/app", "v1").statusCode() == 200 && tokens.requests().size() == 2,
                    Duration.ofSeconds(10), "the token renewed after expires_in");
            assertTrue(tokens.requests().get(1).authorization() == null, "no credentials were configured, none sent");
        }
    }

    @Test
    void tokenUpstream_manyRequestsAtOnce_oneTokenRequest() throws Exception {
        try (TokenServer tokens = new TokenServer(300, 300);
             ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"), List.of(
                     "auth:", "  silly:", "    realm: " + tokens.realm(), "    service: silly-service"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n  - name: docker.io\n    url: "
                     + upstream.url() + "\n")) {
            TestImages images = new TestImages(upstream.url(), 44, "Bearer anything");
            List<Digest> blobs = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                blobs.add(images.pushBlob("tok/many", images.randomBytes(4096)));
            }
            ExecutorService pool = Executors.newFixedThreadPool(10);
            List<Future<Integer>> results = new ArrayList<>();
            for (Digest blob : blobs) {
                results.add(pool.submit(() -> RegistryHttp.get(proxy.url(), "/v2/tok/many/blobs/" + blob).statusCode()));
            }
            for (Future<Integer> result : results) {
                assertEquals(200, result.get(60, TimeUnit.SECONDS));
            }
            pool.shutdown();
            assertEquals(1, tokens.requests().size(), "ten requests needing the same token caused one token request");
        }
    }
}
