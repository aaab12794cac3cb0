package dev.pullthrough.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.upstream.auth.Challenge;
import dev.pullthrough.upstream.auth.TokenCache;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandler;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client of one upstream registry: one method per endpoint of the pull API, and one loop
 * ({@link #send}) that owns authentication: anonymous first, then the Bearer challenge flow (token
 * per scope, cached) or Basic, retried once. Asynchronous (JDK {@code HttpClient.sendAsync}): no
 * thread waits for an answer. Every answer becomes a typed result here; the callers never see HTTP.
 */
public final class UpstreamClient implements Upstream {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_REDIRECTS = 5;
    /** Larger OCI error bodies are not passed through (they are not what a registry sends). */
    private static final int MAX_ERROR_BODY = 64 * 1024;

    private final UpstreamConfig config;
    private final HttpClient http;
    private final TokenCache tokens;
    private final Metrics metrics;
    /** Set once an upstream has asked for Basic: later requests send it up front. */
    private volatile boolean basicRequired;

    public UpstreamClient(UpstreamConfig config, HttpClient http, TokenCache tokens, Metrics metrics) {
        this.config = config;
        this.http = http;
        this.tokens = tokens;
        this.metrics = metrics;
    }

    /**
     * A JDK client for one upstream: HTTP/1.1, its connect timeout, the CAs it is trusted under, and
     * redirects followed by hand (credentials must not follow them).
     */
    public static HttpClient newHttpClient(UpstreamConfig config) throws IOException {
        HttpClient.Builder builder = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(config.timeouts().connect())
                .followRedirects(HttpClient.Redirect.NEVER);
        if (config.caFile().isPresent()) {
            builder.sslContext(UpstreamTrust.withExtraCas(config.caFile().get()));
        }
        return builder.build();
    }

    @Override
    public UpstreamConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- endpoints

    @Override
    public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
        String what = "manifest " + reference + " of " + name;
        return bounded(send("GET", uri("/v2/" + name + "/manifests/" + reference), accept, scope(name),
                BodyHandlers.ofByteArray(), "manifest"), what)
                .thenApply(response -> response.statusCode() == 200
                        ? UpstreamResult.ok(new ManifestBody(mediaType(response), digestHeader(response), response.body()))
                        : UpstreamResult.<ManifestBody>refused(refusal(response, response.body())))
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference, List<String> accept) {
        String what = "manifest " + reference + " of " + name;
        return bounded(send("HEAD", uri("/v2/" + name + "/manifests/" + reference), accept, scope(name),
                BodyHandlers.discarding(), "manifest"), what)
                .thenApply(response -> response.statusCode() == 200
                        ? UpstreamResult.ok(new ManifestHead(digestHeader(response)))
                        : UpstreamResult.<ManifestHead>refused(refusal(response, null)))
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    @Override
    public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
        String what = "blob " + digest + " of " + name;
        return send("GET", uri("/v2/" + name + "/blobs/" + digest), List.of(), scope(name), BodyHandlers.ofInputStream(), "blob")
                .thenCompose(response -> followRedirects(response, scope(name), 0))
                .thenApply(response -> {
                    if (response.statusCode() != 200) {
                        close(response.body());
                        return UpstreamResult.<BlobBody>refused(refusal(response, null));
                    }
                    return UpstreamResult.ok(new BlobBody(response.headers().firstValueAsLong("Content-Length").orElse(-1),
                            response.body()));
                })
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    @Override
    public CompletableFuture<UpstreamResult<Long>> headBlob(RepositoryName name, Digest digest) {
        String what = "blob " + digest + " of " + name;
        return bounded(send("HEAD", uri("/v2/" + name + "/blobs/" + digest), List.of(), scope(name),
                BodyHandlers.discarding(), "blob"), what)
                .thenApply(response -> {
                    if (response.statusCode() != 200) {
                        return UpstreamResult.<Long>refused(refusal(response, null));
                    }
                    long size = response.headers().firstValueAsLong("Content-Length").orElse(-1);
                    return size < 0 ? UpstreamResult.<Long>refused(new Refusal.Unavailable("it sent no Content-Length for " + what))
                            : UpstreamResult.ok(size);
                })
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    @Override
    public CompletableFuture<UpstreamResult<Listing>> listing(RepositoryName name, String pathAndQuery, String kind) {
        String what = kind + " of " + name;
        return bounded(send("GET", uri("/v2/" + name + "/" + pathAndQuery), List.of("application/json"), scope(name),
                BodyHandlers.ofByteArray(), kind), what)
                .thenApply(response -> response.statusCode() == 200
                        ? UpstreamResult.ok(new Listing(response.headers().firstValue("Content-Type").orElse("application/json"),
                                response.body(), response.headers().firstValue("Link"),
                                response.headers().firstValue("OCI-Filters-Applied")))
                        : UpstreamResult.<Listing>refused(refusal(response, response.body())))
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    // ---------------------------------------------------------------- what an answer means

    /** An answer other than 200, as a refusal; {@code body} is its body when it was read. */
    private Refusal refusal(HttpResponse<?> response, byte[] body) {
        int status = response.statusCode();
        boolean ociBody = body != null && body.length > 0 && body.length < MAX_ERROR_BODY
                && response.headers().firstValue("Content-Type").map(t -> t.startsWith("application/json")).orElse(false)
                && new String(body, StandardCharsets.UTF_8).contains("\"errors\"");
        if ((status == 400 || status == 404 || status == 406) && ociBody) {
            return new Refusal.OwnError(status, body);
        }
        switch (status) {
            case 404:
                return new Refusal.NotFound();
            case 401:
                return response.headers().firstValue("WWW-Authenticate").orElse("").contains("insufficient_scope")
                        ? new Refusal.InsufficientScope() : new Refusal.Unauthorized();
            case 403:
                return new Refusal.Denied();
            case 429:
                return new Refusal.RateLimited(response.headers().firstValue("Retry-After"));
            default:
                return status >= 400 && status < 500 ? new Refusal.Rejected(status) : new Refusal.Unavailable("it answered " + status);
        }
    }

    /** A request that failed before an answer: what went wrong, in words a person can act on. */
    private Refusal refusal(Throwable failure, String what) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof Deadlines.Exceeded || cause instanceof java.net.http.HttpTimeoutException) {
            return new Refusal.TimedOut(cause.getMessage() == null ? "no answer in time" : cause.getMessage());
        }
        return new Refusal.Unavailable(FailureReasons.describe(cause, config.url().getHost()));
    }

    // ---------------------------------------------------------------- the auth loop

    /**
     * The one auth loop: send with what is known, and on a {@code 401} answer the challenge once.
     * A second {@code 401} goes back to the caller: Docker Hub answers a missing or private
     * repository that way, and it must not become a loop.
     */
    private <T> CompletableFuture<HttpResponse<T>> send(String method, URI uri, List<String> accept, String scope,
                                                        BodyHandler<T> handler, String kind) {
        Optional<String> sent = authorization(scope);
        return exchange(request(method, uri, accept, sent), handler, kind).thenCompose(response -> {
            if (response.statusCode() != 401) {
                return CompletableFuture.completedFuture(response);
            }
            close(response.body());
            if (sent.isPresent() && sent.get().startsWith("Bearer ")) {
                tokens.invalidate(config.name(), scope); // expired or revoked: the retry needs a fresh one
            }
            Optional<Challenge> challenge = Challenge.parse(response.headers().firstValue("WWW-Authenticate").orElse(null));
            if (challenge.isEmpty()) {
                return CompletableFuture.completedFuture(response);
            }
            return answer(challenge.get(), scope).thenCompose(retryAuth -> retryAuth.isEmpty()
                    ? CompletableFuture.completedFuture(response)
                    : exchange(request(method, uri, accept, retryAuth), handler, kind));
        });
    }

    private CompletableFuture<Optional<String>> answer(Challenge challenge, String scope) {
        if (challenge.scheme().equals("bearer")) {
            return tokens.getOrFetch(config.name(), scope, () -> fetchToken(challenge, scope))
                    .thenApply(token -> token.map(t -> "Bearer " + t));
        }
        if (challenge.scheme().equals("basic") && config.username().isPresent()) {
            basicRequired = true;
            return CompletableFuture.completedFuture(basic());
        }
        return CompletableFuture.completedFuture(Optional.empty());
    }

    private Optional<String> authorization(String scope) {
        if (basicRequired) {
            return basic();
        }
        return tokens.get(config.name(), scope).map(token -> "Bearer " + token);
    }

    /** Basic credentials for the upstream itself, unless that would send them in clear text off this machine. */
    private Optional<String> basic() {
        return mayReceiveCredentials(config.url()) ? credentials() : Optional.empty();
    }

    private Optional<String> credentials() {
        if (config.username().isEmpty()) {
            return Optional.empty();
        }
        String pair = config.username().get() + ":" + config.password().orElse("");
        return Optional.of("Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8)));
    }

    /** GET realm?service=..&scope=.. (Basic with configured credentials), as the token spec describes. */
    private CompletableFuture<Optional<TokenCache.Token>> fetchToken(Challenge challenge, String ourScope) {
        Optional<String> realm = challenge.param("realm");
        if (realm.isEmpty()) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        String scope = challenge.param("scope").orElse(ourScope);
        StringBuilder url = new StringBuilder(realm.get());
        url.append(realm.get().contains("?") ? '&' : '?');
        challenge.param("service").ifPresent(s -> url.append("service=").append(encode(s)).append('&'));
        url.append("scope=").append(encode(scope));
        URI tokenUri;
        try {
            tokenUri = URI.create(url.toString());
        } catch (IllegalArgumentException e) {
            LOG.warn("upstream {} sent an unusable token realm {}", config.name(), realm.get());
            return CompletableFuture.completedFuture(Optional.empty());
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(tokenUri).timeout(config.timeouts().response()).GET();
        if (mayReceiveCredentials(tokenUri)) {
            credentials().ifPresent(b -> request.header("Authorization", b));
        }
        return bounded(exchange(request.build(), BodyHandlers.ofByteArray(), "token"), "a token from " + tokenUri.getHost())
                .thenApply(response -> readToken(response, tokenUri))
                .exceptionally(failure -> {
                    LOG.warn("fetching a token for upstream {} from {} failed: {}", config.name(), tokenUri.getHost(),
                            FailureReasons.describe(failure, tokenUri.getHost()));
                    return Optional.empty();
                });
    }

    private Optional<TokenCache.Token> readToken(HttpResponse<byte[]> response, URI tokenUri) {
        if (response.statusCode() != 200) {
            LOG.warn("token server {} of upstream {} answered {}", tokenUri.getHost(), config.name(), response.statusCode());
            return Optional.empty();
        }
        try {
            JsonNode body = JSON.readTree(response.body());
            String token = body.hasNonNull("token") ? body.get("token").asText() : body.path("access_token").asText(null);
            if (token == null || token.isEmpty()) {
                return Optional.empty();
            }
            long lifetime = body.path("expires_in").asLong(60);
            return Optional.of(new TokenCache.Token(token, Duration.ofSeconds(Math.max(lifetime, 1))));
        } catch (IOException e) {
            LOG.warn("token server {} of upstream {} sent no JSON: {}", tokenUri.getHost(), config.name(), e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * Configured credentials go only to the upstream and the token hosts it is trusted with, and
     * never over plain HTTP to a host that is not loopback.
     */
    private boolean mayReceiveCredentials(URI uri) {
        return config.trustsWithCredentials(uri.getHost()) && ("https".equals(uri.getScheme()) || isLoopback(uri.getHost()));
    }

    private static boolean isLoopback(String host) {
        return host != null && (host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]") || host.equals("::1"));
    }

    // ---------------------------------------------------------------- transport

    /** A redirect (Docker Hub: 307 to a CDN) is followed by hand, with credentials only on the upstream's own host. */
    private CompletableFuture<HttpResponse<InputStream>> followRedirects(HttpResponse<InputStream> response, String scope,
                                                                         int hops) {
        if (!isRedirect(response.statusCode()) || hops >= MAX_REDIRECTS) {
            return CompletableFuture.completedFuture(response);
        }
        close(response.body());
        Optional<String> location = response.headers().firstValue("Location");
        if (location.isEmpty()) {
            return CompletableFuture.failedFuture(new IOException("it redirected without a Location"));
        }
        URI target = response.uri().resolve(location.get());
        HttpRequest.Builder request = HttpRequest.newBuilder(target).timeout(config.timeouts().response()).GET();
        boolean sameHost = target.getHost() != null && target.getHost().equalsIgnoreCase(config.url().getHost())
                && target.getPort() == config.url().getPort();
        if (sameHost) {
            authorization(scope).ifPresent(a -> request.header("Authorization", a));
        }
        return exchange(request.build(), BodyHandlers.ofInputStream(), "blob")
                .thenCompose(next -> followRedirects(next, scope, hops + 1));
    }

    private HttpRequest request(String method, URI uri, List<String> accept, Optional<String> authorization) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri).timeout(config.timeouts().response())
                .method(method, HttpRequest.BodyPublishers.noBody());
        for (String value : accept) {
            builder.header("Accept", value);
        }
        authorization.ifPresent(a -> builder.header("Authorization", a));
        return builder.build();
    }

    private <T> CompletableFuture<HttpResponse<T>> exchange(HttpRequest request, BodyHandler<T> handler, String kind) {
        return http.sendAsync(request, handler).whenComplete((response, failure) -> {
            if (failure == null) {
                metrics.upstreamRequest(config.name(), request.method(), kind, response.statusCode());
                recordRateLimit(response);
            } else {
                metrics.upstreamRequest(config.name(), request.method(), kind, 0);
            }
        });
    }

    /** A whole small body (manifest, token, listing) within the upstream's manifest timeout. */
    private <T> CompletableFuture<T> bounded(CompletableFuture<T> exchange, String what) {
        return Deadlines.within(exchange, config.timeouts().manifest(), "upstream " + config.name() + " did not send "
                + what + " within " + config.timeouts().manifest().toSeconds() + "s");
    }

    /** Docker Hub's {@code ratelimit-limit: 100;w=21600} and {@code ratelimit-remaining: 76;w=21600}. */
    private void recordRateLimit(HttpResponse<?> response) {
        response.headers().firstValue("ratelimit-remaining").map(UpstreamClient::leadingNumber)
                .ifPresent(remaining -> metrics.upstreamRateLimitRemaining(config.name(), remaining));
        response.headers().firstValue("ratelimit-limit").map(UpstreamClient::leadingNumber)
                .ifPresent(limit -> metrics.upstreamRateLimit(config.name(), limit));
    }

    private static long leadingNumber(String value) {
        int end = 0;
        while (end < value.length() && Character.isDigit(value.charAt(end))) {
            end++;
        }
        return end == 0 ? -1 : Long.parseLong(value.substring(0, Math.min(end, 18)));
    }

    /**
     * The Content-Type without parameters: the exact media type, never with {@code charset}. A
     * manifest without one is schema 1, as registries from before schema 2 send it.
     */
    private static String mediaType(HttpResponse<?> response) {
        String type = response.headers().firstValue("Content-Type").orElse(MediaTypes.DOCKER_MANIFEST_V1_SIGNED);
        int semicolon = type.indexOf(';');
        return (semicolon < 0 ? type : type.substring(0, semicolon)).trim();
    }

    private static Optional<String> digestHeader(HttpResponse<?> response) {
        return response.headers().firstValue("Docker-Content-Digest");
    }

    private static void close(Object body) {
        if (body instanceof InputStream) {
            try {
                ((InputStream) body).close();
            } catch (IOException ignored) {
                // the connection is dropped either way
            }
        }
    }

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    private URI uri(String path) {
        return URI.create(config.url() + path);
    }

    private static String scope(RepositoryName name) {
        return "repository:" + name + ":pull";
    }

    private static String encode(String text) {
        return URLEncoder.encode(text, StandardCharsets.UTF_8);
    }
}
