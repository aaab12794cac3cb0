package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.testing.Loopback;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code check --upstreams} as a process started like README starts the jar (issue 27): against the
 * real reference registry behind a token realm, directly and through tinyproxy, every step answers
 * and the exit code is 0; against a dead port, a name that does not resolve, a wrong password, an
 * untrusted certificate and an egress proxy refusing its password, each upstream's line names the
 * step that fails and why, the exit code is 4, and no password appears in the output.
 */
class CheckUpstreamsCommandTest {
    private static final String USER = "puller";
    private static final String PASSWORD = "s3cret-pw-31";
    private static final String WRONG_PASSWORD = "wrong-pw-77";
    private static final String PROXY_USER = "egress";
    private static final String PROXY_PASSWORD = "proxy-pw-53";
    private static final String WRONG_PROXY_PASSWORD = "proxy-wrong-89";

    @TempDir
    Path temp;

    @Test
    void checkUpstreams_tokenRegistryDirectAndThroughEgressProxy_everyStepOk_exit0() throws Exception {
        try (TokenServer tokens = new TokenServer(300, 0);
             ReferenceRegistry registry = tokenRegistry(tokens);
             Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), PROXY_USER, PROXY_PASSWORD,
                     registry.url().getPort(), tokens.realm().getPort())) {
            String yaml = "upstreams:\n"
                    + upstream("direct", registry.url().toString(), PASSWORD) + "    default: true\n"
                    + upstream("tunnelled", registry.url().toString(), PASSWORD)
                    + "    proxy: " + egress.url(PROXY_USER, PROXY_PASSWORD) + "\n";

            Processes.Result checked = check(yaml);

            String out = checked.output();
            assertEquals(0, checked.exitCode(), out);
            for (String name : List.of("direct", "tunnelled")) {
                for (String step : List.of("dns", "connect", "proxy", "tls", "challenge", "token", "rate limit")) {
                    assertTrue(line(out, name, step, "ok"), name + " " + step + " ok: " + out);
                }
            }
            assertTrue(out.contains("token server 127.0.0.1 gave a token for " + USER), out);
            assertTrue(out.contains("egress proxy 127.0.0.1:" + egress.port() + " (upstreams[1].proxy) opened a tunnel to 127.0.0.1:"
                    + registry.url().getPort()), out);
            assertTrue(out.contains("401 Bearer realm=" + tokens.realm()), "the challenge it read: " + out);
            assertTrue(out.contains("none announced"), out);
            assertTrue(out.contains("every upstream answers"), out);
            assertTrue(egress.connectsTo(registry.url().getPort()) >= 1, "the tunnelled check went through tinyproxy: " + egress.connects());
            assertTrue(egress.connectsTo(tokens.realm().getPort()) >= 1, "its token too: " + egress.connects());
            assertEquals(2, tokens.requests().size(), "one fresh token per upstream: " + tokens.requests());
            TokenServer.Request asked = tokens.requests().get(0);
            assertEquals("check-service", asked.query().get("service"));
            assertFalse(asked.query().containsKey("scope"), "no scope, as docker login asks: " + asked);
            noSecrets(out);
        }
    }

    @Test
    void checkUpstreams_deadPortUnresolvableWrongPasswordUntrustedCertRefusingProxy_eachLineNamesItsStep_exit4() throws Exception {
        TestPki pki = TestPki.create(temp.resolve("pki"));
        pki.issue("registry", "subjectAltName=IP:127.0.0.1");
        int deadPort = Loopback.freePort();
        try (TokenServer tokens = new TokenServer(300, 0);
             ReferenceRegistry registry = tokenRegistry(tokens);
             TokenServer untrusted = new TokenServer(300, 0, pki.serverContext("registry"));
             Tinyproxy egress = Tinyproxy.start(temp.resolve("tinyproxy"), PROXY_USER, PROXY_PASSWORD, registry.url().getPort())) {
            String https = "https://127.0.0.1:" + untrusted.realm().getPort();
            String yaml = "upstreams:\n"
                    + upstream("good", registry.url().toString(), PASSWORD) + "    default: true\n"
                    + upstream("dead", "http://127.0.0.1:" + deadPort, PASSWORD)
                    + upstream("nowhere", "http://no-such-registry.invalid", PASSWORD) + "    connectTimeout: 5s\n"
                    + upstream("wrongpw", registry.url().toString(), WRONG_PASSWORD)
                    + upstream("untrusted", https, PASSWORD)
                    + upstream("refused", registry.url().toString(), PASSWORD)
                    + "    proxy: " + egress.url(PROXY_USER, WRONG_PROXY_PASSWORD) + "\n";

            Processes.Result checked = check(yaml);

            String out = checked.output();
            assertEquals(4, checked.exitCode(), out);
            assertTrue(line(out, "good", "rate limit", "ok"), out);
            assertTrue(line(out, "dead", "dns", "ok"), out);
            assertTrue(line(out, "dead", "connect", "failed", "127.0.0.1:" + deadPort + " refused the connection"), out);
            assertTrue(line(out, "dead", "tls", "skipped"), "later steps are not tried: " + out);
            assertTrue(line(out, "nowhere", "dns", "failed", "no-such-registry.invalid"), out);
            assertTrue(line(out, "wrongpw", "challenge", "ok"), out);
            assertTrue(line(out, "wrongpw", "token", "failed", "token server 127.0.0.1 refused the credentials of " + USER + " (401)"), out);
            assertTrue(line(out, "untrusted", "connect", "ok"), out);
            assertTrue(line(out, "untrusted", "tls", "failed", "not signed by a trusted CA"), out);
            assertTrue(out.contains("upstreams[].caFile"), "says the fix: " + out);
            assertTrue(line(out, "refused", "connect", "ok", "egress proxy 127.0.0.1:" + egress.port()), out);
            assertTrue(line(out, "refused", "proxy", "failed", "refused CONNECT to 127.0.0.1:" + registry.url().getPort() + ": 40"), out);
            assertTrue(out.contains("5 of 6 upstreams fail"), out);
            assertTrue(out.contains("good (" + registry.url() + "): answers"), out);
            assertTrue(out.contains("dead (http://127.0.0.1:" + deadPort + "): FAILS at connect"), out);
            noSecrets(out);
        }
    }

    @Test
    void check_withoutTheFlag_triesNoUpstream_exit0() throws Exception {
        int deadPort = Loopback.freePort();
        Processes.Result checked = ProxyProcess.commandLikeReadme(temp.resolve("data"),
                "upstreams:\n" + upstream("dead", "http://127.0.0.1:" + deadPort, PASSWORD), temp.resolve("check.log"), "check");

        assertEquals(0, checked.exitCode(), checked.output());
        assertFalse(checked.output().contains("refused the connection"), checked.output());
        assertFalse(checked.output().contains("upstreams fail"), checked.output());
    }

    // ---------------------------------------------------------------- helpers

    private ReferenceRegistry tokenRegistry(TokenServer tokens) {
        tokens.require("Basic " + Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8)));
        return ReferenceRegistry.start(temp.resolve("registry"), List.of(
                "auth:", "  silly:", "    realm: " + tokens.realm(), "    service: check-service"));
    }

    private static String upstream(String name, String url, String password) {
        return "  - name: " + name + "\n    url: " + url + "\n    username: " + USER + "\n    password: " + password + "\n";
    }

    private Processes.Result check(String yaml) {
        return ProxyProcess.commandLikeReadme(temp.resolve("data"), yaml, temp.resolve("check.log"), "check", "--upstreams");
    }

    /** Whether {@code out} has the line {@code UPSTREAM STEP OUTCOME N ms ...} containing {@code words}. */
    private static boolean line(String out, String upstream, String step, String outcome, String... words) {
        Pattern start = Pattern.compile("^" + Pattern.quote(upstream) + " +" + Pattern.quote(step) + " +" + outcome + " +\\d+ ms .*");
        return out.lines().anyMatch(l -> start.matcher(l).matches() && List.of(words).stream().allMatch(l::contains));
    }

    private static void noSecrets(String out) {
        for (String secret : List.of(PASSWORD, WRONG_PASSWORD, PROXY_PASSWORD, WRONG_PROXY_PASSWORD, "tok-1", "tok-2")) {
            assertFalse(out.contains(secret), "a secret in the output (" + secret + "): " + out);
        }
    }
}
