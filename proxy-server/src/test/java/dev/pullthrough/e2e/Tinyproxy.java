package dev.pullthrough.e2e;

import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Debian's tinyproxy as the egress proxy of a test: on a free loopback port, {@code BasicAuth} with
 * the given user, CONNECT allowed to the given ports only, and a log file the test reads to see
 * which targets went through it. Stopped (its process only) on close.
 */
final class Tinyproxy implements AutoCloseable {
    static final String BINARY = "/usr/bin/tinyproxy";
    private static final Pattern CONNECT = Pattern.compile("Request \\(file descriptor \\d+\\): CONNECT (\\S+) HTTP");

    private final Process process;
    private final int port;
    private final Path log;

    private Tinyproxy(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    static Tinyproxy start(Path dir, String user, String password, int... connectPorts) throws Exception {
        Processes.require(BINARY, "tinyproxy");
        Files.createDirectories(dir);
        int port = Loopback.freePort();
        Path log = dir.resolve("tinyproxy.log");
        List<String> config = new ArrayList<>(List.of(
                "Port " + port,
                "Listen 127.0.0.1",
                "Timeout 60",
                "LogFile \"" + log + "\"",
                "LogLevel Connect",
                "PidFile \"" + dir.resolve("tinyproxy.pid") + "\"",
                "MaxClients 64",
                "Allow 127.0.0.1",
                "BasicAuth " + user + " " + password));
        for (int connectPort : connectPorts) {
            config.add("ConnectPort " + connectPort);
        }
        Path file = dir.resolve("tinyproxy.conf");
        Files.write(file, config);
        Process process = new ProcessBuilder(BINARY, "-d", "-c", file.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("tinyproxy.out").toFile()).start();
        Tinyproxy proxy = new Tinyproxy(process, port, log);
        try {
            Await.until(() -> Loopback.listening(port) || !process.isAlive(), Duration.ofSeconds(20), "tinyproxy listening on " + port);
            if (!process.isAlive()) {
                throw new AssertionError("tinyproxy did not start: " + Files.readString(dir.resolve("tinyproxy.out")));
            }
        } catch (Exception | AssertionError e) {
            proxy.close();
            throw e;
        }
        return proxy;
    }

    int port() {
        return port;
    }

    /** {@code http://user:password@127.0.0.1:port}, as the {@code proxy} key and the variables take it. */
    String url(String user, String password) {
        return "http://" + user + ":" + password + "@127.0.0.1:" + port;
    }

    /** The targets of every CONNECT it was asked for, in order ({@code 127.0.0.1:5000}), refused ones too. */
    List<String> connects() throws IOException {
        List<String> targets = new ArrayList<>();
        if (!Files.exists(log)) {
            return targets;
        }
        for (String line : Files.readAllLines(log)) {
            Matcher m = CONNECT.matcher(line);
            if (m.find()) {
                targets.add(m.group(1));
            }
        }
        return targets;
    }

    /** How many CONNECTs went to {@code port} on loopback. */
    long connectsTo(int port) throws IOException {
        return connects().stream().filter(t -> t.equals("127.0.0.1:" + port)).count();
    }

    String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() {
        process.destroy();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
