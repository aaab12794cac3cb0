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
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * This proxy as a separate JVM (the test's own classpath, the real main class), so a test can
 * kill -9 it mid-download and run the maintenance commands on its data directory.
 */
final class ProxyProcess implements AutoCloseable {
    private final Process process;
    private final int port;

    private ProxyProcess(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    static Map<String, String> environment(Path data, URI upstream, int port) {
        return Map.of(
                "PULLTHROUGH_SERVER_HOST", "127.0.0.1",
                "PULLTHROUGH_SERVER_PORT", Integer.toString(port),
                "PULLTHROUGH_ADMIN_PORT", Integer.toString(port),
                "PULLTHROUGH_STORAGE_PATH", data.toString(),
                "PULLTHROUGH_UPSTREAMS_0_URL", upstream.toString());
    }

    /** Starts {@code serve} and waits until it answers {@code /v2/}; returns how long that took. */
    static ProxyProcess serve(Path data, URI upstream, int port, Path log) {
        return serve(data, upstream, port, log, Map.of());
    }

    /** {@code serve} with more configuration from the environment ({@code PULLTHROUGH_*}). */
    static ProxyProcess serve(Path data, URI upstream, int port, Path log, Map<String, String> more) {
        Map<String, String> env = new HashMap<>(environment(data, upstream, port));
        env.putAll(more);
        Process process = start(List.of(), List.of("serve"), env, log);
        ProxyProcess proxy = new ProxyProcess(process, port);
        proxy.awaitReady(log);
        return proxy;
    }

    /**
     * {@code serve --config FILE} started the way README and the Dockerfile start it,
     * {@code MALLOC_ARENA_MAX=2 java @jvm.options} (128 MiB heap, exit on OutOfMemoryError): what a hostile upstream must not
     * take down is tested under the bounds users run with. Listen address, ports and storage path come
     * from the environment as in {@link #environment}.
     */
    static ProxyProcess serveLikeReadme(Path data, String yaml, int port, Path log) {
        return serveLikeReadme(data, yaml, port, log, Map.of());
    }

    /** {@link #serveLikeReadme(Path, String, int, Path)} with more environment, e.g. a {@code PATH} holding a credential helper. */
    static ProxyProcess serveLikeReadme(Path data, String yaml, int port, Path log, Map<String, String> more) {
        Path config = configFile(data, ".yaml", yaml);
        Map<String, String> env = new HashMap<>(Map.of(
                "PULLTHROUGH_SERVER_HOST", "127.0.0.1",
                "PULLTHROUGH_SERVER_PORT", Integer.toString(port),
                "PULLTHROUGH_ADMIN_PORT", Integer.toString(port),
                "PULLTHROUGH_STORAGE_PATH", data.toString(),
                "MALLOC_ARENA_MAX", "2"));
        env.putAll(more);
        List<String> jvm = List.of("@" + projectFile("jvm.options"));
        Process process = start(jvm, List.of("serve", "--config", config.toString()), env, log);
        ProxyProcess proxy = new ProxyProcess(process, port);
        proxy.awaitReady(log);
        return proxy;
    }

    /** A file at the project's root, found from the module directory the tests run in. */
    private static Path projectFile(String name) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve(name)) && Files.isRegularFile(dir.resolve("pom.xml"))) {
                return dir.resolve(name);
            }
        }
        throw new AssertionError("no " + name + " above " + Path.of("").toAbsolutePath());
    }

    /** Runs a maintenance command (fsck, ...) to its end. */
    static Processes.Result command(Path data, URI upstream, Path log, String... args) {
        return toTheEnd(start(List.of(), List.of(args), environment(data, upstream, Loopback.freePort()), log), log, args);
    }

    /**
     * A command ({@code prefetch}, ...) run to its end with {@code --config FILE} the way README
     * starts the jar, {@code java @jvm.options}; storage path from the environment.
     */
    static Processes.Result commandLikeReadme(Path data, String yaml, Path log, String... args) {
        Path config = configFile(data, "-command.yaml", yaml);
        List<String> command = new ArrayList<>(List.of(args));
        command.addAll(1, List.of("--config", config.toString()));
        return toTheEnd(start(List.of("@" + projectFile("jvm.options")), command,
                Map.of("PULLTHROUGH_STORAGE_PATH", data.toString()), log), log, args);
    }

    /** {@code yaml} written beside the data directory (which is made too), under the data directory's name plus {@code suffix}. */
    private static Path configFile(Path data, String suffix, String yaml) {
        Path config = data.resolveSibling(data.getFileName() + suffix);
        try {
            Files.createDirectories(data);
            Files.writeString(config, yaml);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return config;
    }

    /** Waits up to 120 s for a command to end; its exit code and output. */
    private static Processes.Result toTheEnd(Process process, Path log, String... args) {
        try {
            if (!process.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("pullthrough " + String.join(" ", args) + " did not finish within 120 s");
            }
            return new Processes.Result(process.exitValue(), Files.readString(log));
        } catch (IOException e) {
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static Process start(List<String> jvmOptions, List<String> args, Map<String, String> env, Path log) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.pullthrough.cli.Main"));
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
        builder.environment().keySet().removeIf(k -> k.startsWith("PULLTHROUGH_"));
        // The runner's own egress proxy must not carry a test's loopback traffic (issue 27): a test sets these itself.
        builder.environment().keySet().removeIf(k -> List.of("http_proxy", "https_proxy", "no_proxy").contains(k.toLowerCase(Locale.ROOT)));
        // No background upstream checks (issue 27) unless a test asks: they would add to the upstream requests tests count.
        builder.environment().put("PULLTHROUGH_ADMIN_UPSTREAMCHECKINTERVAL", "0s");
        // close() sends SIGTERM: no drain delay (issue 30) unless a test asks, or every stop would take 5 s.
        builder.environment().put("PULLTHROUGH_SERVER_DRAINDELAY", "0s");
        builder.environment().putAll(env);
        try {
            return builder.start();
        } catch (IOException e) {
            throw new AssertionError("cannot start the proxy: " + e, e);
        }
    }

    private void awaitReady(Path log) {
        HttpClient http = HttpClient.newHttpClient();
        // Generous: a JVM start took 40-120 s under load 30-50 (issue 30's chaos and rolling-restart runs).
        long deadline = System.nanoTime() + Duration.ofSeconds(180).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("the proxy exited with " + process.exitValue() + ": " + read(log));
            }
            try {
                if (http.send(HttpRequest.newBuilder(url().resolve("/v2/")).build(), HttpResponse.BodyHandlers.discarding())
                        .statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        // The caller never gets this process to stop: do not leave it running.
        process.destroyForcibly();
        throw new AssertionError("the proxy did not answer within 180s: " + read(log));
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log)";
        }
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** Whether the process still runs (a hostile answer must not end it). */
    boolean isAlive() {
        return process.isAlive();
    }

    long pid() {
        return process.pid();
    }

    /** Resident memory now, from {@code /proc/PID/status} (VmRSS). */
    long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException e) {
            throw new AssertionError("the proxy's memory cannot be read (did it exit?): " + e, e);
        }
        throw new AssertionError("no VmRSS for the proxy");
    }

    /** Waits for the process to end by itself (after a signal the test sent); its exit code. */
    int awaitExit(Duration limit) throws InterruptedException {
        if (!process.waitFor(limit.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
            throw new AssertionError("the proxy did not exit within " + limit.toMillis() + " ms");
        }
        return process.exitValue();
    }

    /** kill -9: no shutdown hook, no flush, no clean RocksDB close. */
    void kill() {
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * SIGTERM, and the graceful stop it starts: bounded by {@code server.drainTimeout} (30 s by default,
     * 90 s at most in a test), so a process still running after 150 s is stuck, and said so rather
     * than holding the suite.
     */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(150, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("the proxy did not stop within 150 s of SIGTERM");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
