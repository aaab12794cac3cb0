package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.testing.Loopback;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rotating credentials end to end (issue 27): the reference registry behind htpasswd, the proxy as
 * its own process with scripted Docker credential helpers on its PATH. The upstream's password
 * rotates and the helper's answer with it; then the helper's answer goes wrong (expired); then
 * helpers that hang or print garbage.
 */
class CredentialRotationTest {
    private static final String USER = "AWS";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path temp;

    private Path bin;

    /** Writes {@code docker-credential-NAME}: counts its runs, then runs {@code body}. */
    private Path helper(String name, String body) throws Exception {
        Path file = bin.resolve("docker-credential-" + name);
        Files.writeString(file, "#!/bin/sh\necho run >> " + bin.resolve(name + ".runs") + "\n" + body + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    private long runs(String name) throws Exception {
        Path runs = bin.resolve(name + ".runs");
        return Files.exists(runs) ? Files.readAllLines(runs).size() : 0;
    }

    private static void htpasswd(Path file, String password) throws Exception {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        Files.writeString(file, USER + ":" + OpenBSDBCrypt.generate("2a", password.toCharArray(), salt, 6) + "\n");
    }

    /** The upstream's password changes: the reference registry reads htpasswd at start. */
    private static void rotate(ReferenceRegistry upstream, Path htpasswd, String password) throws Exception {
        upstream.stop();
        htpasswd(htpasswd, password);
        upstream.start();
    }

    private static String basic(String password) {
        return "Basic " + Base64.getEncoder().encodeToString((USER + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    private static HttpResponse<byte[]> pull(java.net.URI proxy, String path) {
        return RegistryHttp.get(proxy, path, "Accept", String.join(", ", RegistryHttp.ALL_MANIFEST_TYPES));
    }

    @Test
    void credentialHelper_rotatedExpiredHungGarbled_eachAnsweredAsIssue27Says() throws Exception {
        bin = Files.createDirectories(temp.resolve("bin"));
        Path secret = temp.resolve("helper-secret");
        Files.writeString(secret, "rot-secret-one");
        helper("testhelper", "read server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"" + USER + "\",\"Secret\":\"%s\"}' "
                + "\"$server\" \"$(cat " + secret + ")\"");
        helper("hangs", "sleep 60");
        helper("garbage", "echo 'not json rot-secret-garbage'");
        Path htpasswd = temp.resolve("htpasswd");
        htpasswd(htpasswd, "rot-secret-one");
        int port = Loopback.freePort();
        Path log = temp.resolve("proxy.log");
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"),
                List.of("auth:", "  htpasswd:", "    realm: basic-realm", "    path: " + htpasswd))) {
            Pushed v1 = new TestImages(upstream.url(), 61, basic("rot-secret-one")).pushImage("team/app", "v1", Format.OCI, 1, 4096);
            String yaml = "upstreams:\n"
                    + "  - name: ecr\n    url: " + upstream.url() + "\n    default: true\n    tagTtl: 1ms\n"
                    + "    credentialHelper: testhelper\n"
                    + "  - name: hangs\n    url: " + upstream.url() + "\n    credentialHelper: hangs\n    responseTimeout: 2s\n"
                    + "  - name: garbage\n    url: " + upstream.url() + "\n    credentialHelper: garbage\n";
            try (ProxyProcess proxy = ProxyProcess.serveLikeReadme(temp.resolve("data"), yaml, port, log,
                    Map.of("PATH", bin + ":" + System.getenv("PATH")))) {
                // ------------------------------------------------ first pull: one helper run
                assertEquals(200, pull(proxy.url(), "/v2/team/app/manifests/v1").statusCode());
                assertEquals(1, runs("testhelper"));

                // ------------------------------------------------ rotated: exactly one more run, then none for 100 pulls
                rotate(upstream, htpasswd, "rot-secret-two");
                Files.writeString(secret, "rot-secret-two");
                HttpResponse<byte[]> afterRotation = pull(proxy.url(), "/v2/team/app/manifests/v1");
                assertEquals(200, afterRotation.statusCode());
                assertTrue(afterRotation.headers().firstValue("Warning").isEmpty(), "fresh, not stale");
                assertEquals(2, runs("testhelper"), "the 401 caused exactly one more helper run");
                for (int i = 0; i < 100; i++) {
                    assertEquals(200, pull(proxy.url(), "/v2/team/app/manifests/v1").statusCode());
                }
                assertEquals(2, runs("testhelper"), "100 pulls (each revalidated upstream, tagTtl 1ms) cost no run");

                // ------------------------------------------------ expired: cached tag stale with Warning, uncached 401
                rotate(upstream, htpasswd, "rot-secret-three");
                new TestImages(upstream.url(), 62, basic("rot-secret-three")).pushImage("team/app", "v2", Format.OCI, 1, 4096);
                Files.writeString(secret, "rot-secret-expired");
                for (int i = 0; i < 5; i++) {
                    HttpResponse<byte[]> stale = pull(proxy.url(), "/v2/team/app/manifests/v1");
                    assertEquals(200, stale.statusCode());
                    assertEquals(v1.digest().toString(), stale.headers().firstValue("Docker-Content-Digest").orElseThrow());
                    String warning = stale.headers().firstValue("Warning").orElse("");
                    assertTrue(warning.startsWith("299 - \"upstream ecr refused the proxy's credentials"), warning);
                }
                assertEquals(3, runs("testhelper"), "one run for the burst of refusals, not one per pull");
                HttpResponse<byte[]> uncached = pull(proxy.url(), "/v2/team/app/manifests/v2");
                assertEquals(401, uncached.statusCode());
                String refusal = new String(uncached.body(), StandardCharsets.UTF_8);
                assertTrue(refusal.startsWith("{\"errors\":[{\"code\":\"UNAUTHORIZED\""), refusal);
                assertTrue(refusal.contains("upstream ecr refused the proxy's credentials"), refusal);

                String metrics = new String(RegistryHttp.get(proxy.url(), "/metrics").body(), StandardCharsets.UTF_8);
                double refused = metrics.lines().filter(l -> l.startsWith("pullthrough_upstream_credentials_refused_total{")
                        && l.contains("upstream=\"ecr\"")).mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                        .sum();
                // The first stale pull's HEAD was refused (the next ones are served from the remembered outage), and the uncached GET.
                assertTrue(refused >= 2, "the refusals are counted: " + refused);
                JsonNode status = JSON.readTree(RegistryHttp.get(proxy.url(), "/status.json").body());
                JsonNode ecr = null;
                for (JsonNode u : status.get("upstreams")) {
                    ecr = u.get("name").asText().equals("ecr") ? u : ecr;
                }
                assertEquals((long) refused, ecr.get("credentialsRefused").asLong(), ecr.toString());

                // ------------------------------------------------ a helper that hangs: cut at its deadline, 502 naming it
                long started = System.nanoTime();
                HttpResponse<byte[]> hung = pull(proxy.url(), "/v2/hangs/team/app/manifests/v1");
                long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
                String hungBody = new String(hung.body(), StandardCharsets.UTF_8);
                assertEquals(502, hung.statusCode(), hungBody);
                assertTrue(hungBody.contains("credential helper docker-credential-hangs did not answer within 2000 ms"), hungBody);
                assertTrue(tookMillis < 20_000, "cut near its 2 s deadline, not after its 60 s sleep: " + tookMillis + " ms");

                // ------------------------------------------------ garbage: 502 naming the helper, not quoting it
                HttpResponse<byte[]> garbled = pull(proxy.url(), "/v2/garbage/team/app/manifests/v1");
                String garbledBody = new String(garbled.body(), StandardCharsets.UTF_8);
                assertEquals(502, garbled.statusCode(), garbledBody);
                assertTrue(garbledBody.contains("credential helper docker-credential-garbage printed no JSON object"), garbledBody);
                assertFalse(garbledBody.contains("rot-secret"), garbledBody);
                assertTrue(proxy.isAlive());
            }
            String proxyLog = Files.readString(log);
            assertFalse(proxyLog.contains("rot-secret"), "no secret in the proxy's log");
        }
    }
}
