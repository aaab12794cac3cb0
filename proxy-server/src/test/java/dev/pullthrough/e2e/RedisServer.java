package dev.pullthrough.e2e;

import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The real redis-server (Debian's package) on a free loopback port, without persistence: stopped and
 * started again on the same port (a restart forgets every key, as a Redis without persistence does).
 */
public final class RedisServer implements AutoCloseable {
    private static final Path BINARY = Path.of("/usr/bin/redis-server");
    private final Path dir;
    private final int port;
    private Process process;

    private RedisServer(Path dir, int port) {
        this.dir = dir;
        this.port = port;
    }

    public static RedisServer start(Path dir) throws IOException, InterruptedException {
        RedisServer server = onFreePort(dir);
        server.start();
        return server;
    }

    /** One not started yet, on a port it will listen on once {@link #start()}ed. */
    public static RedisServer onFreePort(Path dir) throws IOException {
        if (!Files.isExecutable(BINARY)) {
            throw new AssertionError(BINARY + " is missing: apt-get install -y redis-server (bash .ci/run does this)");
        }
        Files.createDirectories(dir);
        return new RedisServer(dir, Loopback.freePort());
    }

    public URI uri() {
        return URI.create("redis://127.0.0.1:" + port);
    }

    /** Starts it (again), waiting until it accepts connections. */
    public synchronized void start() throws IOException, InterruptedException {
        Path log = dir.resolve("redis.log");
        process = new ProcessBuilder(BINARY.toString(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", dir.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Loopback.listening(port)) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("redis-server did not start: " + Files.readString(log));
            }
            Thread.sleep(20);
        }
    }

    /** Stops it (SIGTERM), waiting until the port is closed. */
    public synchronized void stop() throws InterruptedException {
        if (process != null) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            process = null;
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
