package dev.pullthrough.admin;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.Prefetcher;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The admin endpoints as plain data: {@code GET /metrics}, {@code GET /healthz}, {@code GET /readyz},
 * and {@code POST /prefetch?image=IMAGE[&image=...]}, which warms the cache and answers when done.
 * Answers may block (disk, upstream): callers run them off the event loop.
 */
public final class AdminRoutes {
    /** A status, a content type and a body. */
    public record Answer(int status, String contentType, byte[] body) {}

    private final Metrics metrics;
    private final Path storageTmp;
    private final Prefetcher prefetcher;
    /** Ready only with room for a typical layer: a proxy that cannot store what it fetches is not ready. */
    private static final long MIN_FREE_BYTES = 256L << 20;

    public AdminRoutes(Metrics metrics, Path storageTmp, Prefetcher prefetcher) {
        this.metrics = metrics;
        this.storageTmp = storageTmp;
        this.prefetcher = prefetcher;
    }

    /** Whether {@code path} is an admin path (decided without blocking). */
    /** The health endpoints, open to every address (load balancers, orchestrators). */
    public static boolean isHealth(String path) {
        return path.equals("/healthz") || path.equals("/readyz");
    }

    public boolean handles(String path) {
        return path.equals("/metrics") || path.equals("/healthz") || path.equals("/readyz") || path.equals("/prefetch");
    }

    /** The answer for an admin request; {@code uri} with its query. */
    public Answer answer(String method, String uri) {
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        if (path.equals("/prefetch")) {
            return method.equals("POST") ? prefetch(q < 0 ? "" : uri.substring(q + 1))
                    : text(405, "text/plain", "use POST /prefetch?image=IMAGE\n");
        }
        switch (path) {
            case "/metrics":
                return text(200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape());
            case "/healthz":
                return text(200, "text/plain", "ok\n");
            case "/readyz":
                if (!storageWritable()) {
                    return text(503, "text/plain", "storage is not writable: " + storageTmp + "\n");
                }
                long free = freeBytes();
                return free < MIN_FREE_BYTES
                        ? text(503, "text/plain", "only " + free + " bytes free in " + storageTmp
                                + ": not room for a typical layer (" + MIN_FREE_BYTES + " bytes)\n")
                        : text(200, "text/plain", "ready\n");
            default:
                return text(404, "text/plain", "not an admin endpoint\n");
        }
    }

    private Answer prefetch(String query) {
        List<String> images = new ArrayList<>();
        for (String pair : query.split("&")) {
            if (pair.startsWith("image=")) {
                images.add(URLDecoder.decode(pair.substring("image=".length()), StandardCharsets.UTF_8));
            }
        }
        if (images.isEmpty()) {
            return text(400, "application/json", "{\"error\":\"name at least one image: POST /prefetch?image=library/alpine:3.19\"}\n");
        }
        StringBuilder json = new StringBuilder("{\"images\":[");
        boolean failed = false;
        for (int i = 0; i < images.size(); i++) {
            json.append(i == 0 ? "" : ",");
            try {
                Prefetcher.Summary s = prefetcher.prefetch(images.get(i), QUIET);
                json.append("{\"image\":\"").append(escape(s.image())).append("\",\"digest\":\"").append(s.digest())
                        .append("\",\"manifests\":").append(s.manifests()).append(",\"blobs\":").append(s.blobs())
                        .append(",\"blobBytes\":").append(s.blobBytes()).append('}');
            } catch (IOException | RuntimeException e) {
                failed = true;
                json.append("{\"image\":\"").append(escape(images.get(i))).append("\",\"error\":\"")
                        .append(escape(e.getMessage() == null ? e.toString() : e.getMessage())).append("\"}");
            }
        }
        json.append("]}\n");
        return text(failed ? 502 : 200, "application/json", json.toString());
    }

    private static final Prefetcher.Progress QUIET = new Prefetcher.Progress() {
        @Override
        public void manifest(Digest digest, String mediaType) {
        }

        @Override
        public void blob(Digest digest, long size) {
        }
    };

    private long freeBytes() {
        try {
            return Files.getFileStore(storageTmp).getUsableSpace();
        } catch (IOException e) {
            return 0;
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

    private static String escape(String text) {
        return text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ");
    }

    private static Answer text(int status, String type, String body) {
        return new Answer(status, type, body.getBytes(StandardCharsets.UTF_8));
    }
}
