package dev.pullthrough.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the layout honest by reading imports: Netty only in the server and upstream.http packages, RocksDB only in
 * storage.meta, the AWS SDK only in storage.s3, Lettuce only in cluster, Micrometer only in metrics, the HTTP client only in upstream. Fully qualified
 * names count as much as imports.
 */
class LayeringTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    private static List<String> offenders(String importPrefix, String... allowedPackages) throws IOException {
        List<String> found = new ArrayList<>();
        // A package name, not a part of another (software.amazon.awssdk.http.nio.netty is not io.netty).
        Pattern use = Pattern.compile("(?<![\\w.])" + Pattern.quote(importPrefix + "."));
        for (String module : new String[] {"config", "storage", "proxy-server"}) {
            Path sources = ROOT.resolve(module).resolve("src/main/java/dev/pullthrough");
            try (Stream<Path> files = Files.walk(sources)) {
                for (Path file : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".java"))::iterator) {
                    String pkg = sources.relativize(file.getParent()).toString().replace('/', '.');
                    boolean allowed = Stream.of(allowedPackages).anyMatch(pkg::equals);
                    // Imports, and fully qualified names in the code, both count.
                    if (!allowed && Files.readAllLines(file).stream().anyMatch(l -> use.matcher(l).find())) {
                        found.add(module + ":" + sources.relativize(file));
                    }
                }
            }
        }
        return found;
    }

    /** The server's listeners and the upstream transport; nothing between them sees a Netty type. */
    @Test
    void netty_onlyInServerAndUpstreamTransport() throws IOException {
        assertEquals(List.of(), offenders("io.netty", "server", "upstream.http"));
    }

    /** The AWS SDK only where the bucket is reached; the rest of the proxy sees S3Bucket. */
    @Test
    void awsSdk_onlyInStorageS3() throws IOException {
        assertEquals(List.of(), offenders("software.amazon.awssdk", "storage.s3"));
    }

    /** Redis only where the replicas coordinate. */
    @Test
    void lettuce_onlyInCluster() throws IOException {
        assertEquals(List.of(), offenders("io.lettuce", "cluster"));
    }

    @Test
    void rocksDb_onlyInStorageMeta() throws IOException {
        assertEquals(List.of(), offenders("org.rocksdb", "storage.meta"));
    }

    @Test
    void micrometer_onlyInMetrics() throws IOException {
        assertEquals(List.of(), offenders("io.micrometer", "metrics"));
    }

    /** The pull-through decisions see typed answers from the upstream, never an HTTP status or header. */
    @Test
    void httpClient_onlyInUpstream() throws IOException {
        assertEquals(List.of(), offenders("java.net.http", "upstream"));
    }
}
