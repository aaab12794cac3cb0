package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code passwordFile} is read again when the upstream (Basic) or its token realm refuses the
 * password it held (issue 27): the request that met the refusal is retried with the new password,
 * so a rotated secret needs no restart. The file is not polled: it is read again only after a refusal.
 */
class PasswordFileRotationTest {
    @TempDir
    Path temp;

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    private static void htpasswd(Path file, String user, String password) throws Exception {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        Files.writeString(file, user + ":" + OpenBSDBCrypt.generate("2a", password.toCharArray(), salt, 6) + "\n");
    }

    private static String yaml(java.net.URI upstream, Path passwordFile) {
        return "upstreams:\n  - name: docker.io\n    url: " + upstream + "\n    tagTtl: 1ms\n    username: puller\n"
                + "    passwordFile: " + passwordFile + "\n";
    }

    @Test
    void basicUpstream_passwordRotatedAndFileChanged_nextPullUsesTheNewPassword() throws Exception {
        Path htpasswd = temp.resolve("htpasswd");
        htpasswd(htpasswd, "puller", "file-one");
        Path passwordFile = temp.resolve("password");
        Files.writeString(passwordFile, "file-one\n");
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"),
                List.of("auth:", "  htpasswd:", "    realm: basic-realm", "    path: " + htpasswd));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), yaml(upstream.url(), passwordFile))) {
            new TestImages(upstream.url(), 71, basic("puller", "file-one")).pushImage("file/app", "v1", Format.OCI, 1, 2048);
            assertEquals(200, RegistryHttp.manifest(proxy.url(), "file/app", "v1").statusCode());

            upstream.stop();
            htpasswd(htpasswd, "puller", "file-two");
            upstream.start();
            Files.writeString(passwordFile, "file-two\n");

            HttpResponse<byte[]> afterRotation = RegistryHttp.manifest(proxy.url(), "file/app", "v1");
            assertEquals(200, afterRotation.statusCode());
            assertTrue(afterRotation.headers().firstValue("Warning").isEmpty(), "revalidated upstream, not served stale");
            assertEquals(0, (long) proxy.metrics().sum("pullthrough_upstream_credentials_refused"),
                    "the refusal was answered by the new password, not passed on");
        }
    }

    @Test
    void tokenRealm_refusesTheOldPassword_fileReadAgainAndTokenFetchedWithTheNew() throws Exception {
        Path passwordFile = temp.resolve("password");
        Files.writeString(passwordFile, "realm-one\n");
        try (TokenServer tokens = new TokenServer(300, 0);
             ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"), List.of(
                     "auth:", "  silly:", "    realm: " + tokens.realm(), "    service: silly-service"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), yaml(upstream.url(), passwordFile))) {
            new TestImages(upstream.url(), 72, "Bearer anything").pushImage("tok/app", "v1", Format.OCI, 1, 2048);
            // Rotated before the first pull: the password read at start is already wrong.
            Files.writeString(passwordFile, "realm-two\n");
            tokens.require(basic("puller", "realm-two"));

            assertEquals(200, RegistryHttp.manifest(proxy.url(), "tok/app", "v1").statusCode());
            assertEquals(2, tokens.requests().size(), "the refused token request, then one with the password read again");
            assertEquals(basic("puller", "realm-one"), tokens.requests().get(0).authorization());
            assertEquals(basic("puller", "realm-two"), tokens.requests().get(1).authorization());
        }
    }
}
