package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.storage.s3.S3ProxyServer;
import dev.pullthrough.testing.Loopback;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Issue 29: a request of another replica on the peer endpoint (admin port) is in the access log like
 * any other request: path, status, bytes, upstream, and its route, {@code peer}.
 */
class PeerAccessLogTest {
    private static final String SECRET = "the-peer-log-cluster-secret";

    @TempDir
    Path temp;
    private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
    private final Logger accessLog = (Logger) LoggerFactory.getLogger("pullthrough.access");
    private Level levelBefore;

    @BeforeEach
    void captureTheAccessLog() {
        // The tests' logback configuration keeps the access log quiet: this test reads it.
        levelBefore = accessLog.getLevel();
        accessLog.setLevel(Level.INFO);
        lines.start();
        accessLog.addAppender(lines);
    }

    @AfterEach
    void restoreTheAccessLog() {
        accessLog.detachAppender(lines);
        accessLog.setLevel(levelBefore);
    }

    /** The access-log line of a request for {@code path} with {@code status}, once written (lines go out per loop turn). */
    private String lineOf(String path, int status) throws Exception {
        String wanted = " GET " + path + " " + status + " ";
        Await.until(() -> find(wanted).isPresent(), Duration.ofSeconds(30), "the access log line of GET " + path + " " + status);
        return find(wanted).orElseThrow();
    }

    private Optional<String> find(String part) {
        synchronized (lines.list) {
            return lines.list.stream().flatMap(event -> event.getFormattedMessage().lines()).filter(l -> l.contains(part)).findFirst();
        }
    }

    @Test
    void peerRequest_onTheAdminPort_loggedWithRouteStatusAndBytes() throws Exception {
        byte[] blob = new byte[64 * 1024];
        new Random(29).nextBytes(blob);
        Digest digest = Digest.sha256Of(blob);
        try (S3ProxyServer s3 = S3ProxyServer.start(temp.resolve("s3proxy"));
             RedisServer redis = RedisServer.start(temp.resolve("redis"));
             FaultyUpstream upstream = new FaultyUpstream().route("GET /v2/team/app/blobs/" + digest,
                     FaultyUpstream.trickle(blob, blob.length, 0, Long.MAX_VALUE))) {
            try (S3Bucket bucket = S3Bucket.open(s3.config("peers", ""))) {
                bucket.createIfMissing().join();
            }
            Path secret = temp.resolve("cluster-secret");
            Files.writeString(secret, SECRET + "\n");
            int port = Loopback.freePort();
            int adminPort = Loopback.freePort();
            String yaml = "storage:\n" + String.join("\n", s3.yaml("peers")) + "\ncluster:\n  redis: " + redis.uri()
                    + "\n  advertise: http://127.0.0.1:" + adminPort + "\n  secretFile: " + secret
                    + "\nupstreams:\n  - name: docker.io\n    url: " + upstream.url() + "\n    default: true\n";
            try (ProxyUnderTest replica = ProxyUnderTest.start(temp.resolve("replica"), yaml, port, adminPort)) {
                assertEquals(200, RegistryHttp.get(replica.url(), "/v2/team/app/blobs/" + digest).statusCode());
                URI admin = URI.create("http://127.0.0.1:" + adminPort);
                String peerPath = "/cluster/blobs/docker.io/team/app/" + digest;

                // GET /cluster/blobs/docker.io/team/app/<digest>, as another replica asks for a blob this one holds
                HttpResponse<byte[]> served = RegistryHttp.get(admin, peerPath, "Authorization", "Bearer " + SECRET);
                assertEquals(200, served.statusCode());
                assertArrayEquals(blob, served.body());
                String line = lineOf(peerPath, 200);
                assertTrue(line.contains(" GET " + peerPath + " 200 " + blob.length + "B "), line);
                assertTrue(line.endsWith("upstream=docker.io route=peer"), line);

                // Refused without the secret: logged too, with no body bytes of a blob.
                assertEquals(401, RegistryHttp.get(admin, peerPath).statusCode());
                String refused = lineOf(peerPath, 401);
                assertTrue(refused.endsWith("route=peer"), refused);

                // The client's pull of the same blob, for comparison: its route is blob.
                String pull = lineOf("/v2/team/app/blobs/" + digest, 200);
                assertTrue(pull.contains(" " + blob.length + "B ") && pull.endsWith("upstream=docker.io route=blob"), pull);
            }
        }
    }
}
