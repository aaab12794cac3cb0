package dev.pullthrough.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

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
}
