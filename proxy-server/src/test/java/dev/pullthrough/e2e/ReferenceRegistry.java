package dev.pullthrough.e2e;

import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The real reference registry (Debian's {@code docker-registry}, distribution 2.8) as a child
 * process on a free loopback port with its own storage directory. It can be stopped and started
 * again on the same port and data, to play an upstream outage.
 */
final class ReferenceRegistry implements AutoCloseable {
    static final String BINARY = "/usr/bin/docker-registry";

    private final Path dir;
    private final String host;
    private final int port;
    private List<String> extraConfig;
    /** The lines under {@code storage:}, or null for the filesystem under {@code dir/data}. */
    private List<String> storage;
    /** The certificate and key it serves HTTPS with, or null for plain HTTP. */
    private Path tlsCertificate;
    private Path tlsKey;
    private Process process;
    /** Requests sent only to see the access log catch up, on one client (each client has a thread of its own). */
    private int markers;
    private final HttpClient markerClient = HttpClient.newHttpClient();

    private ReferenceRegistry(Path dir, String host, int port, List<String> extraConfig) {
        this.dir = dir;
        this.host = host;
        this.port = port;
        this.extraConfig = extraConfig;
    }

    static ReferenceRegistry start(Path dir) {
        return start(dir, List.of());
    }

    /** Starts a registry; {@code extraConfig} lines are appended to its YAML (e.g. a proxy section). */
    static ReferenceRegistry start(Path dir, List<String> extraConfig) {
        Processes.require(BINARY, "docker-registry");
        return startOn(dir, "127.0.0.1", extraConfig);
    }

    /**
     * A registry whose {@code storage:} section is {@code storage} (indented lines, e.g. an {@code s3}
     * driver), plus {@code extraConfig} lines, on loopback.
     */
    static ReferenceRegistry startWithStorage(Path dir, List<String> storage, List<String> extraConfig) {
        Processes.require(BINARY, "docker-registry");
        ReferenceRegistry registry = new ReferenceRegistry(dir, "127.0.0.1", Loopback.freePort(), extraConfig);
        registry.storage = List.copyOf(storage);
        registry.start();
        return registry;
    }

    /**
     * A registry listening on {@code host}: loopback, or a private bridge's own address so that
     * containers on that bridge reach it (the container image test).
     */
    static ReferenceRegistry startOn(Path dir, String host, List<String> extraConfig) {
        Processes.require(BINARY, "docker-registry");
        ReferenceRegistry registry = new ReferenceRegistry(dir, host, Loopback.freePort(), extraConfig);
        registry.start();
        return registry;
    }

    synchronized void start() {
        try {
            Files.createDirectories(dir.resolve("data"));
            List<String> config = new ArrayList<>(List.of(
                    "version: 0.1",
                    "log:",
                    "  level: warn",
                    "  accesslog:",
                    "    disabled: false",
                    "storage:"));
            config.addAll(storage != null ? storage : List.of(
                    "  filesystem:",
                    "    rootdirectory: " + dir.resolve("data"),
                    "  delete:",
                    "    enabled: true"));
            config.addAll(List.of(
                    "http:",
                    "  addr: " + host + ":" + port));
            if (tlsCertificate != null) {
                config.addAll(List.of("  tls:", "    certificate: " + tlsCertificate, "    key: " + tlsKey));
            }
            config.addAll(extraConfig);
            Path file = dir.resolve("config.yml");
            Files.write(file, config);
            ProcessBuilder builder = new ProcessBuilder(BINARY, "serve", file.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("registry.log").toFile()));
            // The AWS SDK of the s3 driver panics at start on a CA bundle variable it cannot apply to its transport.
            builder.environment().remove("AWS_CA_BUNDLE");
            process = builder.start();
            awaitReady();
        } catch (IOException e) {
            throw new AssertionError("cannot start " + BINARY + ": " + e.getMessage(), e);
        }
    }

    /**
     * For the next {@link #start()} (after {@link #stop()}, same port and data): serve HTTPS with this
     * certificate and key, and these extra config lines instead of the first ones.
     */
    synchronized void reconfigure(Path certificate, Path key, List<String> extraConfig) {
        this.tlsCertificate = certificate;
        this.tlsKey = key;
        this.extraConfig = extraConfig;
    }

    private void awaitReady() {
        if (tlsCertificate != null) {
            awaitListening();
            return;
        }
        HttpClient http = HttpClient.newHttpClient();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("docker-registry exited with " + process.exitValue() + "; see " + dir.resolve("registry.log"));
            }
            try {
                HttpResponse<Void> response = http.send(HttpRequest.newBuilder(url().resolve("/v2/")).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (response.statusCode() == 200 || response.statusCode() == 401) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
            sleep(50);
        }
        throw new AssertionError("docker-registry did not answer /v2/ within 20s");
    }

    /** Over TLS the test does not trust the registry's CA: a TCP connection says it listens. */
    private void awaitListening() {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("docker-registry exited with " + process.exitValue() + "; see " + dir.resolve("registry.log"));
            }
            try (java.net.Socket ignored = new java.net.Socket(host, port)) {
                return;
            } catch (IOException e) {
                sleep(50);
            }
        }
        throw new AssertionError("docker-registry did not listen within 20s");
    }

    synchronized void stop() {
        if (process != null) {
            process.destroy();
            try {
                process.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            process = null;
        }
    }

    URI url() {
        return URI.create((tlsCertificate == null ? "http" : "https") + "://" + host + ":" + port);
    }

    String hostPort() {
        return host + ":" + port;
    }

    /** The access log lines of the registry, to count what the upstream really served. */
    List<String> log() {
        try {
            return Files.readAllLines(dir.resolve("registry.log"));
        } catch (IOException e) {
            return List.of();
        }
    }

    /**
     * How many requests the registry's access log shows for {@code method} and exactly {@code path},
     * once it logged every request answered before this call.
     */
    long requests(String method, String path) {
        awaitLogged();
        String needle = "\"" + method + " " + path + " HTTP/";
        return log().stream().filter(line -> line.contains(needle)).count();
    }

    /**
     * The registry writes a request's log line after it answered it: a client can hold the answer
     * before the line is written. Waits until the line of a request sent now appears, so the lines of
     * the requests answered before are in. A stopped registry has logged all it will.
     */
    private synchronized void awaitLogged() {
        if (process == null || !process.isAlive() || tlsCertificate != null) {
            return;
        }
        String marker = "/v2/log-marker/" + markers++ + "/tags/list";
        try {
            markerClient.send(HttpRequest.newBuilder(url().resolve(marker)).build(), HttpResponse.BodyHandlers.discarding());
            Await.until(() -> log().stream().anyMatch(line -> line.contains(marker)), Duration.ofSeconds(10),
                    "the registry logged " + marker);
        } catch (Exception e) {
            throw new AssertionError("the registry's access log did not catch up: " + e.getMessage(), e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        stop();
    }
}
