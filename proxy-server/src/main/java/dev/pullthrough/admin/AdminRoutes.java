package dev.pullthrough.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.config.ConfigException;
import dev.pullthrough.config.Durations;
import dev.pullthrough.inventory.CacheAdmin;
import dev.pullthrough.inventory.CachedImage;
import dev.pullthrough.inventory.PurgeResult;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.proxy.Prefetcher;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The admin endpoints as plain data: {@code GET /metrics}, {@code GET /healthz}, {@code GET /readyz},
 * and {@code POST /prefetch?image=IMAGE[&image=...]}, which warms the cache and answers when done.
 * Answers may block on the disk: callers run them off the event loop. A prefetch waits on upstreams
 * for as long as they take, so {@link #answerLater} runs it on threads of its own, never a worker's.
 */
public final class AdminRoutes {
    /** A status, a content type and a body. */
    public record Answer(int status, String contentType, byte[] body) {}

    private final Metrics metrics;
    private final Path storageTmp;
    private final Prefetcher prefetcher;
    private final CacheAdmin cache;
    private final StatusReport status;
    private final Supplier<Optional<String>> degradation;
    /** Where prefetches wait on their upstreams: not the workers, which every other request needs (issue 29). */
    private final Executor prefetching;
    private static final String STATUS_PAGE = statusPage();
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Ready only with room for a typical layer: a proxy that cannot store what it fetches is not ready. */
    private static final long MIN_FREE_BYTES = 256L << 20;

    /**
     * {@code degradation}: why this replica of a cluster works alone now; {@code /readyz} reports it
     * and stays ready (a replica alone still serves every pull). {@code prefetching}: the threads
     * prefetches run on while they wait on upstreams.
     */
    public AdminRoutes(Metrics metrics, Path storageTmp, Prefetcher prefetcher, CacheAdmin cache, StatusReport status,
                       Supplier<Optional<String>> degradation, Executor prefetching) {
        this.prefetching = prefetching;
        this.degradation = degradation;
        this.status = status;
        this.cache = cache;
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
        return path.equals("/metrics") || path.equals("/healthz") || path.equals("/readyz") || path.equals("/prefetch")
                || path.equals("/cache/images") || path.equals("/") || path.equals("/status.json")
                || path.equals("/upstreams.json");
    }

    /** The answer for an admin request; {@code uri} with its query. */
    public Answer answer(String method, String uri) {
        return answer(method, uri, () -> false);
    }

    /**
     * The answer for an admin request, completed when known: a prefetch completes when its images
     * are cached, holding none of {@code workers} meanwhile; every other answer runs on {@code workers}.
     */
    public CompletableFuture<Answer> answerLater(String method, String uri, BooleanSupplier clientGone, Executor workers) {
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        if (path.equals("/prefetch") && method.equals("POST")) {
            return prefetch(q < 0 ? "" : uri.substring(q + 1), clientGone);
        }
        return CompletableFuture.supplyAsync(() -> answer(method, uri, clientGone), workers);
    }

    /**
     * As {@link #answer(String, String)}; {@code clientGone} says whether the client has hung up, so
     * that a long answer (a prefetch) stops working for nobody.
     */
    public Answer answer(String method, String uri, BooleanSupplier clientGone) {
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        if (path.equals("/prefetch")) {
            // Blocking callers only (answerLater does not come here for a POST): waits for the prefetch.
            return method.equals("POST") ? prefetch(q < 0 ? "" : uri.substring(q + 1), clientGone).join()
                    : text(405, "text/plain", "use POST /prefetch?image=IMAGE\n");
        }
        if (path.equals("/cache/images")) {
            String query = q < 0 ? "" : uri.substring(q + 1);
            return switch (method) {
                case "GET", "HEAD" -> images(query);
                case "DELETE" -> purge(query);
                default -> text(405, "text/plain", "use GET /cache/images[?repository=REPO] or DELETE /cache/images?image=IMAGE\n");
            };
        }
        switch (path) {
            case "/":
                // The report goes into the page, so its first render needs no request (and a browser
                // dumping the page sees data); "</" inside a script element would end it.
                return text(200, "text/html; charset=utf-8",
                        STATUS_PAGE.replace("/*STATUS*/", new String(toJson(status.snapshot()), StandardCharsets.UTF_8)
                                .replace("</", "<\\/")));
            case "/status.json":
                return json(200, status.snapshot());
            case "/upstreams.json":
                return json(200, status.upstreamChecks());
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
                        : text(200, "text/plain", degradation.get().map(why -> "ready; cluster degraded: " + why + "\n")
                                .orElse("ready\n"));
            default:
                return text(404, "text/plain", "not an admin endpoint\n");
        }
    }

    /** {@code GET /cache/images[?repository=[UPSTREAM/]REPO]}: what the cache holds. */
    private Answer images(String query) {
        List<String> repository = parameters(query, "repository");
        try {
            List<Map<String, Object>> images = new ArrayList<>();
            for (CachedImage image : cache.images(repository.stream().findFirst())) {
                Map<String, Object> json = new LinkedHashMap<>();
                json.put("upstream", image.upstream());
                json.put("repository", image.repository());
                json.put("name", image.name());
                json.put("tags", image.tags());
                json.put("digest", image.digest().toString());
                json.put("mediaType", image.mediaType());
                json.put("size", image.size());
                json.put("lastPulled", image.lastPulledMillis() == 0 ? null : Instant.ofEpochMilli(image.lastPulledMillis()).toString());
                json.put("pulls", image.pulls());
                images.add(json);
            }
            return json(200, Map.of("images", images));
        } catch (IllegalArgumentException e) {
            return json(400, Map.of("error", e.getMessage()));
        }
    }

    /** {@code DELETE /cache/images?image=IMAGE[&image=...]} or {@code ?unusedFor=30d}: purge. */
    private Answer purge(String query) {
        List<String> images = parameters(query, "image");
        List<String> unusedFor = parameters(query, "unusedFor");
        if (images.isEmpty() == unusedFor.isEmpty()) {
            return json(400, Map.of("error", "name what to purge: DELETE /cache/images?image=[UPSTREAM/]REPO[:TAG|@DIGEST]"
                    + " (a repository alone purges all of it), or ?unusedFor=30d"));
        }
        List<PurgeResult> results = new ArrayList<>();
        try {
            if (!unusedFor.isEmpty()) {
                results.addAll(cache.purgeUnusedFor(Durations.parse("unusedFor", unusedFor.get(0))));
            }
            for (String image : images) {
                results.add(cache.purge(image));
            }
        } catch (IllegalArgumentException | ConfigException e) {
            return json(400, Map.of("error", e.getMessage()));
        }
        return json(200, Map.of("purged", results));
    }

    private static List<String> parameters(String query, String name) {
        List<String> values = new ArrayList<>();
        for (String pair : query.split("&")) {
            if (pair.startsWith(name + "=")) {
                values.add(URLDecoder.decode(pair.substring(name.length() + 1), StandardCharsets.UTF_8));
            }
        }
        return values;
    }

    private static Answer json(int status, Object value) {
        return new Answer(status, "application/json", toJson(value));
    }

    private static byte[] toJson(Object value) {
        try {
            return JSON.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("maps of plain values always serialise", e);
        }
    }

    private static String statusPage() {
        try (InputStream page = AdminRoutes.class.getResourceAsStream("status.html")) {
            return new String(page.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("the status page is part of the jar", e);
        }
    }

    /** One image's part of a prefetch's answer: its JSON object, and whether it failed. */
    private record Prefetched(String json, boolean failed) {}

    /**
     * {@code POST /prefetch}: the images one after another, each on a prefetch thread, chained so
     * that no thread waits for the next to start; the answer completes when the last one ends (or the
     * client hung up: nobody reads the rest).
     */
    private CompletableFuture<Answer> prefetch(String query, BooleanSupplier clientGone) {
        List<String> images = parameters(query, "image");
        if (images.isEmpty()) {
            return CompletableFuture.completedFuture(text(400, "application/json",
                    "{\"error\":\"name at least one image: POST /prefetch?image=library/alpine:3.19\"}\n"));
        }
        CompletableFuture<List<Prefetched>> done = CompletableFuture.completedFuture(new ArrayList<>());
        for (String image : images) {
            done = done.thenCompose(parts -> clientGone.getAsBoolean() ? CompletableFuture.completedFuture(parts)
                    : CompletableFuture.supplyAsync(() -> prefetchOne(image, clientGone), prefetching).thenApply(part -> {
                        parts.add(part);
                        return parts;
                    }));
        }
        return done.thenApply(AdminRoutes::prefetchAnswer);
    }

    /** Blocking: one image walked and cached, on a prefetch thread. */
    private Prefetched prefetchOne(String image, BooleanSupplier clientGone) {
        try {
            Prefetcher.Summary s = prefetcher.prefetch(image, Prefetcher.QUIET, clientGone);
            return new Prefetched("{\"image\":\"" + escape(s.image()) + "\",\"digest\":\"" + s.digest()
                    + "\",\"manifests\":" + s.manifests() + ",\"blobs\":" + s.blobs() + ",\"blobBytes\":" + s.blobBytes() + '}',
                    false);
        } catch (IOException | RuntimeException e) {
            return new Prefetched("{\"image\":\"" + escape(image) + "\",\"error\":\""
                    + escape(e.getMessage() == null ? e.toString() : e.getMessage()) + "\"}", true);
        }
    }

    private static Answer prefetchAnswer(List<Prefetched> parts) {
        boolean failed = parts.stream().anyMatch(Prefetched::failed);
        String json = "{\"images\":[" + String.join(",", parts.stream().map(Prefetched::json).toList()) + "]}\n";
        return text(failed ? 502 : 200, "application/json", json);
    }

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
