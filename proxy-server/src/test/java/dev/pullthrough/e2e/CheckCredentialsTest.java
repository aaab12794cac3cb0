package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.upstream.BodyBudget;
import dev.pullthrough.upstream.CheckStep;
import dev.pullthrough.upstream.UpstreamCheck;
import dev.pullthrough.upstream.UpstreamClient;
import dev.pullthrough.upstream.UpstreamProbe;
import dev.pullthrough.upstream.auth.CredentialSources;
import dev.pullthrough.upstream.auth.TokenCache;
import dev.pullthrough.upstream.http.ClientLoops;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The token step of the upstream check (issue 27) with every kind of credentials pulls use: Basic
 * against the real registry behind htpasswd (right and wrong password), and a Docker credential
 * helper for a token realm (its answer accepted; a helper that fails said as such). No secret in any step.
 */
class CheckCredentialsTest {
    private static final String USER = "puller";
    private static final String PASSWORD = "basic-pw-61";
    private static final String HELPER_SECRET = "helper-secret-47";

    @TempDir
    Path temp;

    @Test
    void check_basicAuthRegistry_rightPasswordAccepted_wrongOneRefusedAtTheTokenStep() throws Exception {
        try (ReferenceRegistry registry = basicAuthRegistry(); ClientLoops loops = new ClientLoops()) {
            UpstreamCheck right = check(loops, "upstreams:\n  - name: basic\n    url: " + registry.url()
                    + "\n    username: " + USER + "\n    password: " + PASSWORD + "\n");
            UpstreamCheck wrong = check(loops, "upstreams:\n  - name: basic\n    url: " + registry.url()
                    + "\n    username: " + USER + "\n    password: wrong-basic-pw-13\n");

            assertTrue(right.passed(), right.toString());
            assertTrue(step(right, "challenge").detail().startsWith("401 Basic realm=basic-realm"), right.toString());
            assertEquals("Basic credentials of " + USER + " accepted", step(right, "token").detail());
            assertEquals("token", wrong.failure().orElseThrow().name(), wrong.toString());
            assertEquals("the upstream refused the Basic credentials of " + USER + " (401)", step(wrong, "token").detail());
            assertEquals(CheckStep.Outcome.SKIPPED, step(wrong, "rate limit").outcome());
            noSecrets(right, wrong);
        }
    }

    @Test
    void check_credentialHelper_itsAnswerGetsTheToken_aFailingHelperIsNamed() throws Exception {
        Path bin = Files.createDirectories(temp.resolve("bin"));
        helper(bin, "good", "read server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"" + USER + "\",\"Secret\":\"" + HELPER_SECRET
                + "\"}' \"$server\"");
        helper(bin, "broken", "exit 3");
        try (TokenServer tokens = new TokenServer(300, 0);
             ReferenceRegistry registry = ReferenceRegistry.start(temp.resolve("registry"), List.of(
                     "auth:", "  silly:", "    realm: " + tokens.realm(), "    service: helper-service"));
             ClientLoops loops = new ClientLoops()) {
            tokens.require("Basic " + Base64.getEncoder().encodeToString((USER + ":" + HELPER_SECRET).getBytes(StandardCharsets.UTF_8)));
            UpstreamCheck good = check(loops, helperYaml(registry.url(), "good"), bin);
            UpstreamCheck broken = check(loops, helperYaml(registry.url(), "broken"), bin);

            assertTrue(good.passed(), good.toString());
            assertTrue(step(good, "token").detail().startsWith("token server 127.0.0.1 gave a token for " + USER), good.toString());
            assertEquals(1, tokens.requests().size(), "the broken helper's check never reached the realm: " + tokens.requests());
            assertEquals("token", broken.failure().orElseThrow().name(), broken.toString());
            assertEquals("credential helper docker-credential-broken failed (exit status 3)", step(broken, "token").detail());
            noSecrets(good, broken);
        }
    }

    // ---------------------------------------------------------------- helpers

    private static String helperYaml(URI url, String helper) {
        return "upstreams:\n  - name: helped\n    url: " + url + "\n    credentialHelper: " + helper + "\n";
    }

    private static UpstreamCheck check(ClientLoops loops, String yaml) throws Exception {
        return check(loops, yaml, null);
    }

    /** One upstream's check on a client built as serve builds it; credential helpers looked for in {@code bin} only. */
    private static UpstreamCheck check(ClientLoops loops, String yaml, Path bin) throws Exception {
        UpstreamConfig config = ConfigLoader.fromYaml(yaml, Map.of()).upstreams().get(0);
        ExecutorService work = Executors.newCachedThreadPool();
        try {
            UpstreamClient client = bin == null
                    ? new UpstreamClient(config, UpstreamClient.newHttpClient(config, loops), new TokenCache(), new Metrics())
                    : new UpstreamClient(config, UpstreamClient.newHttpClient(config, loops), new TokenCache(), new Metrics(),
                            BodyBudget.eighthOfHeap(), CredentialSources.of(config, Clock.systemUTC(), work, List.of(bin)));
            return new UpstreamProbe(client, work, Clock.systemUTC()).run().join();
        } finally {
            work.shutdownNow();
        }
    }

    private ReferenceRegistry basicAuthRegistry() throws Exception {
        Path dir = Files.createDirectories(temp.resolve("basic"));
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        Path htpasswd = dir.resolve("htpasswd");
        Files.writeString(htpasswd, USER + ":" + OpenBSDBCrypt.generate("2a", PASSWORD.toCharArray(), salt, 6) + "\n");
        return ReferenceRegistry.start(dir, List.of("auth:", "  htpasswd:", "    realm: basic-realm", "    path: " + htpasswd));
    }

    private static void helper(Path bin, String name, String body) throws Exception {
        Path file = bin.resolve("docker-credential-" + name);
        Files.writeString(file, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static CheckStep step(UpstreamCheck check, String name) {
        return check.steps().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    private static void noSecrets(UpstreamCheck... checks) {
        for (UpstreamCheck check : checks) {
            for (String secret : List.of(PASSWORD, "wrong-basic-pw-13", HELPER_SECRET, "tok-1")) {
                assertFalse(check.toString().contains(secret), "a secret in a step (" + secret + "): " + check);
            }
        }
    }
}
