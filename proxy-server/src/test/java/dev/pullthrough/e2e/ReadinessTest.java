package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A proxy whose disk has no room for a typical layer is not ready (issue 13): on a 64 MiB tmpfs of
 * our own (as root, as the tests run), /readyz answers 503 with the reason while /healthz says alive.
 */
class ReadinessTest {
    @TempDir
    Path temp;

    @Test
    void readyz_diskWithoutRoomForALayer_503WithReason() throws Exception {
        Path small = Files.createDirectories(temp.resolve("small"));
        Processes.runOk(30, "mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", small.toString());
        try (ProxyUnderTest proxy = ProxyUnderTest.start(small.resolve("data"), "upstreams:\n  - name: u\n    url: http://127.0.0.1:9\n")) {
            HttpResponse<byte[]> ready = RegistryHttp.get(proxy.url(), "/readyz");
            String body = new String(ready.body(), StandardCharsets.UTF_8);
            assertEquals(503, ready.statusCode(), body);
            assertTrue(body.contains("bytes free") && body.contains("typical layer"), body);
            assertEquals(200, RegistryHttp.get(proxy.url(), "/healthz").statusCode());
        } finally {
            Processes.run(List.of("umount", small.toString()), 30);
        }
    }
}
