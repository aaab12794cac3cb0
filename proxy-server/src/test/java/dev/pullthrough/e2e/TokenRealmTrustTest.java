package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A token realm is the upstream's word, held to its trust boundary (issue 26, hole 9): a challenge
 * naming an internal service (or an {@code ftp://} URL) makes the proxy fetch nothing and forward
 * nothing, and says so; an {@code authHosts} realm still works. A realm that times out, sends too much
 * or sends no JSON is reported as that, not as the upstream refusing the proxy's credentials.
 */
class TokenRealmTrustTest {
    private static final String MANIFEST = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
            + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
            + "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}";
    private static final String PATH = "/v2/test/app/manifests/v1";

    @TempDir
    Path temp;

    /** The upstream's manifest: served with {@code Bearer good-token}, else a challenge naming {@code realm}. */
    private static FaultyUpstream.Answer challengedManifest(String realm) {
        return exchange -> {
            if ("Bearer good-token".equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                FaultyUpstream.fixed(200, "application/vnd.oci.image.manifest.v1+json", MANIFEST.getBytes(StandardCharsets.UTF_8),
                        Map.of()).answer(exchange);
                return;
            }
            FaultyUpstream.fixed(401, "application/json", "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}".getBytes(StandardCharsets.UTF_8),
                    Map.of("WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"registry\"")).answer(exchange);
        };
    }

    private static FaultyUpstream.Answer token(String token) {
        return FaultyUpstream.fixed(200, "application/json", ("{\"token\":\"" + token + "\"}").getBytes(StandardCharsets.UTF_8), Map.of());
    }

    private static String yaml(FaultyUpstream upstream, String more) {
        return "upstreams:\n  - name: hostile.test\n    url: " + upstream.url() + "\n    default: true\n"
                + "    username: puller\n    password: s3cret\n" + more;
    }

    private static String body(HttpResponse<byte[]> response) {
        return new String(response.body(), StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- outside the boundary: never contacted

    @Test
    void manifest_realmIsAnInternalServiceOnAnotherHost_neverContactedClearError() {
        try (FaultyUpstream internal = new FaultyUpstream();
             FaultyUpstream upstream = new FaultyUpstream()) {
            internal.route("GET /internal-secret", token("internal-secret-token"));
            // The upstream is 127.0.0.1; localhost is another host name, and may be anything on this machine.
            upstream.route("GET " + PATH, challengedManifest("http://localhost:" + internal.url().getPort() + "/internal-secret"));
            try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), yaml(upstream, ""))) {
                HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "test/app", "v1");

                assertEquals(502, refused.statusCode(), body(refused));
                assertTrue(body(refused).startsWith("{\"errors\":[{\"code\":\"UPSTREAM_UNAVAILABLE\""), body(refused));
                assertTrue(body(refused).contains("the token realm http://localhost:" + internal.url().getPort()
                        + "/internal-secret is outside the upstream's trust boundary"), body(refused));
                assertTrue(body(refused).contains("upstreams[].authHosts"), "names the fix: " + body(refused));
                assertEquals(0, internal.count("GET /internal-secret"), "the internal service was never contacted");
                assertEquals(1, upstream.count("GET " + PATH), "nothing to retry with");
            }
        }
    }

    @Test
    void manifest_ftpRealmOnUpstreamsHost_refusedNotFetchedAsHttp() {
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            upstream.route("GET /token", token("good-token"));
            upstream.route("GET " + PATH, challengedManifest("ftp://127.0.0.1:" + upstream.url().getPort() + "/token"));
            try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), yaml(upstream, ""))) {
                HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "test/app", "v1");

                assertEquals(502, refused.statusCode(), body(refused));
                assertTrue(body(refused).contains("is not an http or https URL"), body(refused));
                assertEquals(0, upstream.count("GET /token"), "ftp:// was not fetched as plain HTTP");
            }
        }
    }

    // ---------------------------------------------------------------- inside the boundary: works

    @Test
    void manifest_realmListedInAuthHosts_tokenFetchedAndUsed() {
        try (FaultyUpstream realm = new FaultyUpstream();
             FaultyUpstream upstream = new FaultyUpstream()) {
            realm.route("GET /token", token("good-token"));
            upstream.route("GET " + PATH, challengedManifest("http://localhost:" + realm.url().getPort() + "/token"));
            try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), yaml(upstream, "    authHosts: [localhost]\n"))) {
                HttpResponse<byte[]> pulled = RegistryHttp.manifest(proxy.url(), "test/app", "v1");

                assertEquals(200, pulled.statusCode(), body(pulled));
                assertArrayEquals(MANIFEST.getBytes(StandardCharsets.UTF_8), pulled.body());
                assertEquals(1, realm.count("GET /token"));
                assertEquals(2, upstream.count("GET " + PATH), "challenged, then with the token");
            }
        }
    }

    // ---------------------------------------------------------------- a broken realm, said as such

    @Test
    void manifest_realmSendsMalformedJson_saysSo() {
        assertRealmFailure(FaultyUpstream.fixed(200, "application/json", "{\"token\": nope".getBytes(StandardCharsets.UTF_8), Map.of()),
                "", 502, "sent malformed JSON");
    }

    @Test
    void manifest_realmSendsTwoMegabytes_saysTooLarge() {
        byte[] huge = new byte[2 << 20];
        Arrays.fill(huge, (byte) ' ');
        assertRealmFailure(FaultyUpstream.fixed(200, "application/json", huge, Map.of()), "", 502, "sent more than 1 MiB");
    }

    @Test
    void manifest_realmNeverAnswers_saysTimedOut() {
        FaultyUpstream.Answer silent = exchange -> {
            try {
                Thread.sleep(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("gave up");
        };
        assertRealmFailure(silent, "    responseTimeout: 1s\n", 504, "fetching a token from 127.0.0.1 timed out");
    }

    private void assertRealmFailure(FaultyUpstream.Answer realmAnswer, String more, int status, String said) {
        try (FaultyUpstream upstream = new FaultyUpstream()) {
            upstream.route("GET /token", realmAnswer);
            upstream.route("GET " + PATH, challengedManifest(upstream.url() + "/token"));
            try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), yaml(upstream, more))) {
                HttpResponse<byte[]> refused = RegistryHttp.manifest(proxy.url(), "test/app", "v1");

                assertEquals(status, refused.statusCode(), body(refused));
                assertTrue(body(refused).contains(said), body(refused));
                assertTrue(!body(refused).contains("refused the proxy's credentials"), body(refused));
                assertEquals(1, upstream.count("GET /token"));
            }
        }
    }
}
