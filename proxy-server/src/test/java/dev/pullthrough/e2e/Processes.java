package dev.pullthrough.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the real command-line clients (skopeo, docker, ctr) and reports what they said when they fail. */
final class Processes {
    private Processes() {}

    /** The result of one command. */
    record Result(int exitCode, String output) {
        Result requireSuccess(List<String> command) {
            if (exitCode != 0) {
                throw new AssertionError("command failed (exit " + exitCode + "): " + String.join(" ", command) + "\n" + output);
            }
            return this;
        }
    }

    /**
     * dockerd and containerd fall back to the real registry when a mirror fails: with these, any
     * request off loopback goes to a closed loopback port, so a failing test never leaves the machine.
     */
    static final Map<String, String> FENCED = Map.of(
            "HTTP_PROXY", "http://127.0.0.1:9", "HTTPS_PROXY", "http://127.0.0.1:9", "NO_PROXY", "127.0.0.1,localhost",
            "http_proxy", "http://127.0.0.1:9", "https_proxy", "http://127.0.0.1:9", "no_proxy", "127.0.0.1,localhost");

    static Result run(List<String> command, long timeoutSeconds) {
        return run(command, timeoutSeconds, Map.of());
    }

    /** Runs {@code command} with {@code environment} added to this process's own. */
    static Result run(List<String> command, long timeoutSeconds, Map<String, String> environment) {
        try {
            Path log = Files.createTempFile("cmd", ".log");
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().putAll(environment);
            Process process = builder.start();
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
                return new Result(-1, "timed out after " + timeoutSeconds + "s\n" + Files.readString(log, StandardCharsets.UTF_8));
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            Files.deleteIfExists(log);
            return new Result(process.exitValue(), output);
        } catch (IOException e) {
            throw new AssertionError("cannot run " + command.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + command, e);
        }
    }

    static Result runOk(long timeoutSeconds, String... command) {
        return run(List.of(command), timeoutSeconds).requireSuccess(List.of(command));
    }

    /** Fails (never skips) with the package to install when a real client is missing. */
    static Path require(String binary, String debianPackage) {
        Path path = Path.of(binary);
        if (!Files.isExecutable(path)) {
            throw new AssertionError(binary + " is missing: install it with 'apt-get install -y " + debianPackage
                    + "' (bash .ci/run does this)");
        }
        return path;
    }

    /**
     * A test class's clean-up: closes each of {@code parts} in order (nulls and failures skipped, so one
     * part that will not stop leaves the others stopped), then removes {@code temp} as root would.
     */
    static void stopAll(java.nio.file.Path temp, Iterable<? extends AutoCloseable> parts) {
        for (AutoCloseable part : parts) {
            try {
                if (part != null) {
                    part.close();
                }
            } catch (Exception ignored) {
                // best effort: the next part must still stop
            }
        }
        run(List.of("rm", "-rf", temp.toString()), 120);
    }
}
