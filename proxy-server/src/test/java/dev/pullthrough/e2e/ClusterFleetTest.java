package dev.pullthrough.e2e;

import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.storage.s3.S3ProxyServer;
import dev.pullthrough.testing.Loopback;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fleet test on a cluster: three replicas (one bucket on the real S3Proxy, the real redis-server),
 * each client of the fleet pointed at a different replica than the one before it. The upstream must
 * still see one GET per tag, and once it is down every client must still pull, whichever replica it
 * asks: the tags another replica resolved come through Redis, their bytes through the bucket.
 */
class ClusterFleetTest extends FleetTest {
    private S3ProxyServer s3;
    private RedisServer redis;

    @Override
    List<ProxyUnderTest> startProxies(Path temp, String upstreamsYaml) throws Exception {
        s3 = S3ProxyServer.start(temp.resolve("s3proxy"));
        try (S3Bucket bucket = S3Bucket.open(s3.config("fleet", ""))) {
            bucket.createIfMissing().join();
        }
        redis = RedisServer.start(temp.resolve("redis"));
        Path secret = temp.resolve("cluster-secret");
        Files.writeString(secret, "the-fleet-cluster-secret\n");
        List<ProxyUnderTest> replicas = new ArrayList<>();
        for (String name : List.of("a", "b", "c")) {
            int port = Loopback.freePort();
            String yaml = "storage:\n" + String.join("\n", s3.yaml("fleet")) + "\ncluster:\n  redis: " + redis.uri()
                    + "\n  advertise: http://127.0.0.1:" + port + "\n  secretFile: " + secret + "\n" + upstreamsYaml;
            replicas.add(ProxyUnderTest.start(temp.resolve("replica-" + name), yaml, port, port));
        }
        return replicas;
    }

    @Override
    List<AutoCloseable> stopAfterProxies() {
        return List.of(s3, redis);
    }
}
