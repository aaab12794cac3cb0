package dev.pullthrough.upstream.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs a Docker credential helper, {@code docker-credential-<name> get}, with the registry's server
 * URL on stdin, and reads its answer, JSON {@code {"Username": .., "Secret": ..}} on stdout (the
 * docker-credential-helpers protocol). Blocking: it waits for a process, up to a deadline, after
 * which the helper and its children are killed. What it printed never appears in a message.
 */
public final class CredentialHelper implements RotatingCredentials.Loader {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** No credential answer is larger; more is not read. */
    private static final int MAX_OUTPUT = 64 * 1024;

    private final String program;
    private final String serverUrl;
    private final List<Path> searchPath;
    private final Duration deadline;

    /** {@code searchPath}: the directories the helper is looked for in, in order (the PATH). */
    public CredentialHelper(String name, String serverUrl, List<Path> searchPath, Duration deadline) {
        this.program = "docker-credential-" + name;
        this.serverUrl = serverUrl;
        this.searchPath = List.copyOf(searchPath);
        this.deadline = deadline;
    }

    /** The directories of this process's {@code PATH}. */
    public static List<Path> systemPath() {
        List<Path> dirs = new ArrayList<>();
        for (String dir : Optional.ofNullable(System.getenv("PATH")).orElse("").split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty()) {
                dirs.add(Path.of(dir));
            }
        }
        return dirs;
    }

    /** What messages call it: {@code credential helper docker-credential-ecr-login}. */
    public String describe() {
        return "credential helper " + program;
    }

    @Override
    public Credentials load() throws CredentialFailure {
        Path executable = searchPath.stream().map(dir -> dir.resolve(program)).filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new CredentialFailure(describe() + " is not on the PATH; install it or fix upstreams[].credentialHelper"));
        Process process;
        try {
            process = new ProcessBuilder(executable.toString(), "get").redirectError(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            throw new CredentialFailure(describe() + " could not be started: " + e.getMessage());
        }
        try {
            byte[] output = answer(process);
            return parse(output);
        } finally {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    /** Sends the server URL, then waits up to the deadline for the helper to print its answer and exit 0. */
    private byte[] answer(Process process) throws CredentialFailure {
        try (OutputStream stdin = process.getOutputStream()) {
            stdin.write((serverUrl + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException ignored) {
            // a helper that does not read stdin (or exited already) is judged by what it prints
        }
        // Read on a thread of its own: a hung helper blocks the read, and the deadline is kept here.
        CompletableFuture<byte[]> read = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try {
                read.complete(readBounded(process.getInputStream()));
            } catch (IOException e) {
                read.completeExceptionally(e);
            }
        }, "credential-helper-output");
        reader.setDaemon(true);
        reader.start();
        long deadlineNanos = System.nanoTime() + deadline.toNanos();
        try {
            byte[] output = read.get(deadline.toNanos(), TimeUnit.NANOSECONDS);
            long left = Math.max(0, deadlineNanos - System.nanoTime());
            if (!process.waitFor(left, TimeUnit.NANOSECONDS)) {
                throw timedOut();
            }
            if (process.exitValue() != 0) {
                throw new CredentialFailure(describe() + " failed (exit status " + process.exitValue() + ")");
            }
            return output;
        } catch (TimeoutException e) {
            throw timedOut();
        } catch (ExecutionException e) {
            throw new CredentialFailure(describe() + "'s output could not be read: " + e.getCause().getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CredentialFailure(describe() + " was interrupted (the proxy is stopping)");
        }
    }

    private CredentialFailure timedOut() {
        return new CredentialFailure(describe() + " did not answer within " + deadline.toMillis()
                + " ms (upstreams[].responseTimeout); it was stopped");
    }

    private static byte[] readBounded(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        int n;
        while ((n = in.read(buffer)) >= 0) {
            if (out.size() + n > MAX_OUTPUT) {
                throw new IOException("it printed more than " + MAX_OUTPUT + " bytes, which no credential is");
            }
            out.write(buffer, 0, n);
        }
        return out.toByteArray();
    }

    /** {@code {"ServerURL": .., "Username": .., "Secret": ..}}; anything else is refused without quoting it. */
    private Credentials parse(byte[] output) throws CredentialFailure {
        JsonNode body;
        try {
            body = JSON.readTree(output);
        } catch (IOException e) {
            body = null;
        }
        JsonNode username = body == null ? null : body.get("Username");
        JsonNode secret = body == null ? null : body.get("Secret");
        if (username == null || !username.isTextual() || secret == null || !secret.isTextual() || secret.asText().isEmpty()) {
            throw new CredentialFailure(describe() + " printed no JSON object with a Username and a Secret ("
                    + output.length + " bytes), as the Docker credential helper protocol has it");
        }
        return new Credentials(username.asText(), secret.asText());
    }
}
