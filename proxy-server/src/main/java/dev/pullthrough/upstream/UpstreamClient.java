package dev.pullthrough.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client of one upstream registry: one method per endpoint of the pull API, and one loop
 * ({@link #send}) that owns authentication: anonymous first, then the Bearer challenge flow (token
 * per scope, cached) or Basic, retried once. Blocking; callers run it off the event loop.
 */
public final class UpstreamClient {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
    private static final int MAX_REDIRECTS = 5;

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

    /** A shared JDK client: HTTP/1.1, redirects followed by hand (credentials must not follow them). */
    public static HttpClient newHttpClient() {
        return HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    public UpstreamConfig config() {
        return config;
    }

    /** {@code GET|HEAD /v2/<name>/manifests/<reference>} with the client's {@code Accept} values as sent. */
    public HttpResponse<byte[]> manifest(String method, RepositoryName name, String reference, List<String> accept)
            throws IOException {
        URI uri = uri("/v2/" + name + "/manifests/" + reference);
        return send(method, uri, accept, scope(name), BodyHandlers.ofByteArray(), "manifest");
    }

    /** {@code GET /v2/<name>/blobs/<digest>}, redirects followed; the caller closes the body. */
    public HttpResponse<InputStream> openBlob(RepositoryName name, Digest digest) throws IOException {
        URI uri = uri("/v2/" + name + "/blobs/" + digest);
        HttpResponse<InputStream> response = send("GET", uri, List.of(), scope(name), BodyHandlers.ofInputStream(), "blob");
        for (int hops = 0; isRedirect(response.statusCode()) && hops < MAX_REDIRECTS; hops++) {
            URI location = response.uri().resolve(response.headers().firstValue("Location")
                    .orElseThrow(() -> new IOException("upstream redirect without Location")));
            response.body().close();
            response = followRedirect(location, scope(name));
        }
        return response;
    }

    /** {@code HEAD /v2/<name>/blobs/<digest>}: size and existence without a download. */
    public HttpResponse<Void> headBlob(RepositoryName name, Digest digest) throws IOException {
        URI uri = uri("/v2/" + name + "/blobs/" + digest);
        return send("HEAD", uri, List.of(), scope(name), BodyHandlers.discarding(), "blob");
    }

    /** A small JSON endpoint under the repository, e.g. {@code tags/list?n=10}. */
    public HttpResponse<byte[]> getJson(RepositoryName name, String pathAndQuery, String kind) throws IOException {
        URI uri = uri("/v2/" + name + "/" + pathAndQuery);
        return send("GET", uri, List.of("application/json"), scope(name), BodyHandlers.ofByteArray(), kind);
    }

    private HttpResponse<InputStream> followRedirect(URI location, String scope) throws IOException {
        // A redirect (Docker Hub: 307 to a CDN) leaves the upstream: no Authorization goes with it
        // unless it stays on the upstream's own host.
        HttpRequest.Builder request = HttpRequest.newBuilder(location).timeout(REQUEST_TIMEOUT).GET();
        boolean sameHost = location.getHost() != null && location.getHost().equalsIgnoreCase(config.url().getHost())
                && location.getPort() == config.url().getPort();
        if (sameHost) {
            authorization(scope).ifPresent(a -> request.header("Authorization", a));
        }
        return exchange(request.build(), BodyHandlers.ofInputStream(), "blob");
    }

    /**
     * The one auth loop: send with what is known, and on a {@code 401} answer the challenge once.
     * A second {@code 401} goes back to the caller: Docker Hub answers a missing or private
     * repository that way, and it must not become a loop.
     */
    private <T> HttpResponse<T> send(String method, URI uri, List<String> accept, String scope,
                                     BodyHandler<T> handler, String kind) throws IOException {
        Optional<String> sent = authorization(scope);
        HttpResponse<T> response = exchange(request(method, uri, accept, sent), handler, kind);
        if (response.statusCode() != 401) {
            return response;
        }
        discard(response);
        if (sent.isPresent() && sent.get().startsWith("Bearer ")) {
            tokens.invalidate(config.name(), scope); // expired or revoked: the retry needs a fresh one
        }
        Optional<Challenge> challenge = Challenge.parse(response.headers().firstValue("WWW-Authenticate").orElse(null));
        Optional<String> retryAuth = challenge.flatMap(c -> answer(c, scope));
        if (retryAuth.isEmpty()) {
            return response;
        }
        return exchange(request(method, uri, accept, retryAuth), handler, kind);
    }

    private Optional<String> answer(Challenge challenge, String scope) {
        if (challenge.scheme().equals("bearer")) {
            return tokens.getOrFetch(config.name(), scope, () -> fetchToken(challenge, scope)).map(token -> "Bearer " + token);
        }
        if (challenge.scheme().equals("basic") && config.username().isPresent()) {
            basicRequired = true;
            return basic();
        }
        return Optional.empty();
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
    private Optional<TokenCache.Token> fetchToken(Challenge challenge, String ourScope) {
        Optional<String> realm = challenge.param("realm");
        if (realm.isEmpty()) {
            return Optional.empty();
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
            return Optional.empty();
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(tokenUri).timeout(REQUEST_TIMEOUT).GET();
        if (mayReceiveCredentials(tokenUri)) {
            credentials().ifPresent(b -> request.header("Authorization", b));
        }
        try {
            HttpResponse<byte[]> response = exchange(request.build(), BodyHandlers.ofByteArray(), "token");
            if (response.statusCode() != 200) {
                LOG.warn("token server {} of upstream {} answered {}", tokenUri.getHost(), config.name(), response.statusCode());
                return Optional.empty();
            }
            JsonNode body = JSON.readTree(response.body());
            String token = body.hasNonNull("token") ? body.get("token").asText() : body.path("access_token").asText(null);
            if (token == null || token.isEmpty()) {
                return Optional.empty();
            }
            long lifetime = body.path("expires_in").asLong(60);
            return Optional.of(new TokenCache.Token(token, Duration.ofSeconds(Math.max(lifetime, 1))));
        } catch (IOException e) {
            LOG.warn("fetching a token for upstream {} from {} failed: {}", config.name(), tokenUri.getHost(), e.toString());
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

    private HttpRequest request(String method, URI uri, List<String> accept, Optional<String> authorization) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri).timeout(REQUEST_TIMEOUT)
                .method(method, HttpRequest.BodyPublishers.noBody());
        for (String value : accept) {
            builder.header("Accept", value);
        }
        authorization.ifPresent(a -> builder.header("Authorization", a));
        return builder.build();
    }

    private <T> HttpResponse<T> exchange(HttpRequest request, BodyHandler<T> handler, String kind) throws IOException {
        try {
            HttpResponse<T> response = http.send(request, handler);
            metrics.upstreamRequest(config.name(), request.method(), kind, response.statusCode());
            recordRateLimit(response);
            return response;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for upstream " + config.name(), e);
        } catch (IOException e) {
            metrics.upstreamRequest(config.name(), request.method(), kind, 0);
            throw e;
        }
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

    private static void discard(HttpResponse<?> response) throws IOException {
        if (response.body() instanceof InputStream) {
            ((InputStream) response.body()).close();
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
