package dev.pullthrough.admin;

import dev.pullthrough.metrics.Metrics;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** The admin endpoints as plain data: {@code /metrics}, {@code /healthz}, {@code /readyz}. */
public final class AdminRoutes {
    /** A status, a content type and a body. */
    public record Answer(int status, String contentType, byte[] body) {}

    private final Metrics metrics;
    private final Path storageTmp;

    public AdminRoutes(Metrics metrics, Path storageTmp) {
        this.metrics = metrics;
        this.storageTmp = storageTmp;
    }

    /** The answer for {@code path}, or empty when it is not an admin path. */
    public Optional<Answer> answer(String path) {
        switch (path) {
            case "/metrics":
                return Optional.of(text(200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape()));
            case "/healthz":
                return Optional.of(text(200, "text/plain", "ok\n"));
            case "/readyz":
                return Optional.of(storageWritable()
                        ? text(200, "text/plain", "ready\n")
                        : text(503, "text/plain", "storage is not writable: " + storageTmp + "\n"));
            default:
                return Optional.empty();
        }
    }

    private boolean storageWritable() {
        try {
            Path probe = Files.createTempFile(storageTmp, "ready", ".probe");
            Files.delete(probe);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static Answer text(int status, String type, String body) {
        return new Answer(status, type, body.getBytes(StandardCharsets.UTF_8));
    }
}
