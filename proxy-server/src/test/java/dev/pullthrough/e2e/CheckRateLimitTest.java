package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.app.ProxyCore;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.upstream.CheckStep;
import dev.pullthrough.upstream.UpstreamCheck;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The rate limit step of the upstream check (issue 27) against an upstream built like Docker Hub's
 * registry: a Bearer challenge, a token realm, and the limit announced only on manifest requests. The
 * check reads it with one HEAD of Docker's documented manifest (free) and never a GET (a pull); an
 * upstream that is not Docker Hub gets no such request, its limit read from what it already sent.
 */
class CheckRateLimitTest {
    private static final String HEAD = "HEAD /v2/ratelimitpreview/test/manifests/latest";
    private static final String GET = "GET /v2/ratelimitpreview/test/manifests/latest";

    @Test
    void check_dockerHub_readsTheLimitWithOneHead_noGet() throws Exception {
        try (FaultyUpstream hub = hubLike("76;w=21600")) {
            UpstreamCheck check = check("docker.io", hub);

            assertTrue(check.passed(), check.toString());
            assertEquals("76 of 100 left per 6h window on HEAD of ratelimitpreview/test:latest", step(check, "rate limit").detail());
            assertTrue(step(check, "token").detail().contains("gave a token for anonymous"), check.toString());
            assertEquals(1, hub.count(HEAD), "one HEAD, with the token: free on Docker Hub");
            assertEquals(1, hub.count("GET /token"), "the token step's token served the HEAD too");
            assertEquals(0, hub.count(GET), "never a GET: that would count as a pull");
        }
    }

    @Test
    void check_dockerHubLimitSpent_rateLimitStepFails() throws Exception {
        try (FaultyUpstream hub = hubLike("0;w=21600")) {
            UpstreamCheck check = check("docker.io", hub);

            assertFalse(check.passed());
            CheckStep rateLimit = step(check, "rate limit");
            assertEquals(CheckStep.Outcome.FAILED, rateLimit.outcome());
            assertTrue(rateLimit.detail().startsWith("spent: 0 of 100 left per 6h window"), rateLimit.detail());
        }
    }

    @Test
    void check_notDockerHub_noManifestRequest_noneAnnounced() throws Exception {
        try (FaultyUpstream other = hubLike("76;w=21600")) {
            UpstreamCheck check = check("private", other);

            assertTrue(check.passed(), check.toString());
            assertEquals("none announced on GET /v2/ or the token answer", step(check, "rate limit").detail());
            assertEquals(0, other.count(HEAD));
        }
    }

    /** A registry answering like Docker Hub's: 401 with a Bearer challenge on /v2/, a token, the limit on the manifest HEAD. */
    private static FaultyUpstream hubLike(String remaining) {
        FaultyUpstream hub = new FaultyUpstream();
        hub.route("GET /v2/", FaultyUpstream.fixed(401, "application/json", "{\"errors\":[]}".getBytes(StandardCharsets.UTF_8),
                Map.of("WWW-Authenticate", "Bearer realm=\"" + hub.url() + "/token\",service=\"registry.docker.io\"")));
        hub.route("GET /token", FaultyUpstream.fixed(200, "application/json",
                "{\"token\":\"hub-token-1\",\"expires_in\":300}".getBytes(StandardCharsets.UTF_8), Map.of()));
        FaultyUpstream.Answer limit = FaultyUpstream.fixed(200, "application/vnd.docker.distribution.manifest.v2+json", new byte[0],
                Map.of("ratelimit-limit", "100;w=21600", "ratelimit-remaining", remaining, "Docker-Content-Digest", "sha256:" + "0".repeat(64)));
        FaultyUpstream.Answer challenge = FaultyUpstream.fixed(401, "application/json", new byte[0], Map.of("WWW-Authenticate",
                "Bearer realm=\"" + hub.url() + "/token\",service=\"registry.docker.io\",scope=\"repository:ratelimitpreview/test:pull\""));
        // As Docker Hub: the manifest only with a token.
        hub.route(HEAD, exchange -> ("Bearer hub-token-1".equals(exchange.getRequestHeaders().getFirst("Authorization"))
                ? limit : challenge).answer(exchange));
        return hub;
    }

    private static UpstreamCheck check(String name, FaultyUpstream upstream) throws Exception {
        return ProxyCore.checkUpstreams(ConfigLoader.fromYaml("upstreams:\n  - name: " + name + "\n    url: " + upstream.url() + "\n",
                Map.of())).get(0);
    }

    private static CheckStep step(UpstreamCheck check, String name) {
        return check.steps().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }
}
