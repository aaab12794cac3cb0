package dev.pullthrough.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class AccessLogTest {
    @Test
    void printable_controlBytes_escapedSoNoLineCanBeForged() {
        assertEquals("/v2/a\\x0a2026 GET /v2/forged 200\\x0d\\x1b[31m", AccessLog.printable("/v2/a\n2026 GET /v2/forged 200\r\u001b[31m"));
    }

    @Test
    void printable_plainPath_sameString() {
        String path = "/v2/library/alpine/manifests/3.19";
        assertSame(path, AccessLog.printable(path));
    }

    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-26T18:07:09.027Z"), ZoneOffset.UTC);

    @Test
    void line_text_timeFirstThenRequestAndOutcome() {
        StringBuilder out = new StringBuilder();
        new AccessLog(false, CLOCK).line(out, "10.0.0.7", "GET", "/v2/library/alpine/manifests/3.19", 200, 1234, 3, "hit", "docker.io", "manifest", false);
        assertEquals("2026-11-26T18:07:09.027Z 10.0.0.7 GET /v2/library/alpine/manifests/3.19 200 1234B 3ms cache=hit upstream=docker.io route=manifest",
                out.toString());
    }

    @Test
    void line_json_oneObjectWithEscapedPathAndAbort() {
        StringBuilder out = new StringBuilder();
        new AccessLog(true, CLOCK).line(out, "::1", "GET", "/v2/a\"b/blobs/x", 200, 5, 0, "miss", "u", "blob", true);
        assertEquals("{\"time\":\"2026-11-26T18:07:09.027Z\",\"client\":\"::1\",\"method\":\"GET\",\"path\":\"/v2/a\\\"b/blobs/x\",\"status\":200,"
                + "\"bytes\":5,\"ms\":0,\"cache\":\"miss\",\"upstream\":\"u\",\"route\":\"blob\",\"aborted\":true}", out.toString());
    }
}
