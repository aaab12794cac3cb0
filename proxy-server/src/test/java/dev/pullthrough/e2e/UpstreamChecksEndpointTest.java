package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /upstreams.json} and the status page after the background check (issue 27): soon after
 * the start, every step of a working upstream is ok, a dead one's connect step failed with its cause
 * and the later steps were skipped; the page in a real browser shows that cause.
 */
class UpstreamChecksEndpointTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> STEPS = List.of("dns", "connect", "proxy", "tls", "challenge", "token", "rate limit");

    @TempDir
    Path temp;

    @Test
    void upstreamsJson_afterTheFirstBackgroundRun_eachStepOfEachUpstream_andThePageShowsIt() throws Exception {
        int deadPort = Loopback.freePort();
        try (FaultyUpstream good = new FaultyUpstream();
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                     + "  - name: good\n    url: " + good.url() + "\n    default: true\n"
                     + "  - name: dead\n    url: http://127.0.0.1:" + deadPort + "\n",
                     Map.of("PULLTHROUGH_ADMIN_UPSTREAMCHECKINTERVAL", "5m"))) {
            Await.until(() -> checks(proxy).get("upstreams").findValues("checkedAt").stream().noneMatch(JsonNode::isNull),
                    Duration.ofSeconds(30), "the first background run checked both upstreams");

            JsonNode checks = checks(proxy);
            assertEquals(300, checks.get("intervalSeconds").asLong());
            assertEquals(1, checks.get("runs").asLong());
            JsonNode up = checks.get("upstreams").get(0);
            assertEquals("good", up.get("name").asText());
            assertTrue(up.get("ok").asBoolean(), up.toString());
            assertTrue(up.get("failedStep").isNull());
            for (int i = 0; i < STEPS.size(); i++) {
                JsonNode step = up.get("steps").get(i);
                assertEquals(STEPS.get(i), step.get("step").asText());
                assertEquals("ok", step.get("outcome").asText(), step.toString());
                assertTrue(step.get("durationMillis").asLong() >= 0 && step.hasNonNull("at") && step.hasNonNull("detail"), step.toString());
                assertTrue(step.get("cause").isNull());
            }
            assertEquals(1, good.count("GET /v2/"), "one check so far: one GET /v2/ " + up);

            JsonNode dead = checks.get("upstreams").get(1);
            assertEquals("dead", dead.get("name").asText());
            assertFalse(dead.get("ok").asBoolean());
            assertEquals("connect", dead.get("failedStep").asText());
            JsonNode connect = dead.get("steps").get(1);
            assertEquals("failed", connect.get("outcome").asText());
            assertEquals("127.0.0.1:" + deadPort + " refused the connection", connect.get("cause").asText());
            assertEquals("skipped", dead.get("steps").get(6).get("outcome").asText());

            JsonNode status = JSON.readTree(RegistryHttp.get(proxy.url(), "/status.json").body());
            assertEquals(checks.get("upstreams"), status.get("upstreamChecks").get("upstreams"), "the page's data holds the same");
            String dom = Chromium.dumpDom(proxy.url() + "/", temp.resolve("chromium"), 3000).output();
            assertFalse(dom.contains("Uncaught"), "a script error: " + dom);
            // Rendered cells (the page also embeds the JSON, so the words alone would prove nothing).
            assertTrue(dom.contains("<td class=\"failed\">FAILS at connect</td>"), dom);
            assertTrue(dom.contains("<td class=\"failed\">127.0.0.1:" + deadPort + " refused the connection</td>"), dom);
        }
    }

    private static JsonNode checks(ProxyUnderTest proxy) {
        HttpResponse<byte[]> answer = RegistryHttp.get(proxy.url(), "/upstreams.json");
        assertEquals(200, answer.statusCode());
        assertEquals("application/json", answer.headers().firstValue("Content-Type").orElse(""));
        try {
            return JSON.readTree(answer.body());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
