package dev.pullthrough.storage.s3;

import dev.pullthrough.config.S3Config;
import dev.pullthrough.testing.Loopback;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The real S3Proxy (a real S3 API server, filesystem backend) on a free loopback port, as a process
 * of its own with the classpath that test-tools/s3proxy wrote. A test makes one per bucket store.
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String ACCESS_KEY = "pullthrough-test";
    public static final String SECRET_KEY = "pullthrough-test-secret";
    private static final Path CLASSPATH = Path.of("..", "test-tools", "s3proxy", "target", "s3proxy.classpath");

    private final Process process;
    private final int port;

    private S3ProxyServer(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    public static S3ProxyServer start(Path dir) throws Exception {
        if (!Files.exists(CLASSPATH)) {
            throw new AssertionError(CLASSPATH.toAbsolutePath() + " is missing: build test-tools/s3proxy first (mvn -B verify does)");
        }
        Files.createDirectories(dir.resolve("data"));
        int port = Loopback.freePort();
        Path properties = dir.resolve("s3proxy.properties");
        Files.writeString(properties, String.join("\n",
                "s3proxy.endpoint=http://127.0.0.1:" + port,
                "s3proxy.authorization=aws-v2-or-v4",
                "s3proxy.identity=" + ACCESS_KEY,
                "s3proxy.credential=" + SECRET_KEY,
                "jclouds.provider=filesystem",
                "jclouds.filesystem.basedir=" + dir.resolve("data"), ""));
        Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-DLOG_LEVEL=warn", "-Xmx256m", "-cp", Files.readString(CLASSPATH).strip(), "org.gaul.s3proxy.Main",
                "--properties", properties.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("s3proxy.log").toFile()).start();
        S3ProxyServer server = new S3ProxyServer(process, port);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Loopback.listening(port)) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                server.close();
                throw new AssertionError("S3Proxy did not start: " + Files.readString(dir.resolve("s3proxy.log")));
            }
            Thread.sleep(50);
        }
        return server;
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** A storage.s3 config for {@code bucket} here (path style, the server's own keys). */
    public S3Config config(String bucket, String prefix) {
        return new S3Config(bucket, Optional.of(endpoint()), "us-east-1", true, Optional.of(ACCESS_KEY),
                Optional.of(SECRET_KEY), prefix, false);
    }

    /** The YAML lines of that config, for a proxy under test. */
    public List<String> yaml(String bucket) {
        return List.of("  s3:", "    bucket: " + bucket, "    endpoint: " + endpoint(), "    pathStyle: true",
                "    accessKey: " + ACCESS_KEY, "    secretKey: " + SECRET_KEY);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}
