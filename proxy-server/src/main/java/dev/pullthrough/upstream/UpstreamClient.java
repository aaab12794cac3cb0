package dev.pullthrough.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.upstream.auth.Challenge;
import dev.pullthrough.upstream.auth.CredentialFailure;
import dev.pullthrough.upstream.auth.CredentialHelper;
import dev.pullthrough.upstream.auth.CredentialSource;
import dev.pullthrough.upstream.auth.CredentialSources;
import dev.pullthrough.upstream.auth.Credentials;
import dev.pullthrough.upstream.auth.TokenCache;
import dev.pullthrough.upstream.http.BodyTooLarge;
import dev.pullthrough.upstream.http.ClientLoops;
import dev.pullthrough.upstream.http.NettyHttpClient;
import dev.pullthrough.upstream.http.TransportTimeout;
import dev.pullthrough.upstream.http.UpstreamResponse;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client of one upstream registry: one method per endpoint of the pull API, and one loop
 * ({@link #send}) that owns authentication: anonymous first, then the Bearer challenge flow (token
 * per scope, cached) or Basic, retried once. Asynchronous, on the Netty transport of
 * {@code upstream.http}: no thread waits for an answer. Every answer becomes a typed result here;
 * the callers never see HTTP.
 */
public final class UpstreamClient implements Upstream {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_REDIRECTS = 5;
    /** Larger OCI error bodies are not passed through (they are not what a registry sends). */
    private static final int MAX_ERROR_BODY = 64 * 1024;
    private static final int MAX_LISTING = 32 << 20;
    static final int MAX_TOKEN = 1 << 20;
    /**
     * A manifest's bytes weigh twice in the {@link BodyBudget}: the body, and the copy RocksDB's
     * value encoding makes while it is stored. A listing is held as it came.
     */
    private static final int MANIFEST_COPIES = 2;

    private final UpstreamConfig config;
    private final NettyHttpClient http;
    private final TokenCache tokens;
    private final Metrics metrics;
    private final BodyBudget budget;
    private final TrustBoundary boundary;
    private static final Duration FAILURE_WARNING_INTERVAL = Duration.ofSeconds(30);
    private volatile long lastFailureWarning;
    /** Set once an upstream has asked for Basic: later requests send it up front. */
    private volatile boolean basicRequired;
    private final CredentialSource credentials;
    /**
     * Where credential helpers run and password files are read again (issue 27): off the event
     * loops. Threads only while a load runs; one load per upstream at a time.
     */
    private static final ExecutorService CREDENTIAL_LOADS = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "credential-load");
        thread.setDaemon(true);
        return thread;
    });

    public UpstreamClient(UpstreamConfig config, NettyHttpClient http, TokenCache tokens, Metrics metrics) {
        this(config, http, tokens, metrics, BodyBudget.eighthOfHeap());
    }

    /**
     * Whether a manifest of {@code size} bytes fits {@code budget} at all (as it weighs there): a
     * maxManifestSize past it would refuse every manifest of that size.
     */
    public static boolean manifestFits(long size, BodyBudget budget) {
        return size * MANIFEST_COPIES <= budget.capacity();
    }

    /** {@code budget}: the heap that manifest and listing bodies of every upstream may take at once. */
    public UpstreamClient(UpstreamConfig config, NettyHttpClient http, TokenCache tokens, Metrics metrics, BodyBudget budget) {
        this(config, http, tokens, metrics, budget,
                CredentialSources.of(config, Clock.systemUTC(), CREDENTIAL_LOADS, CredentialHelper.systemPath()));
    }

    /** {@code credentials}: where this upstream's credentials come from (fixed, a file, a helper). */
    public UpstreamClient(UpstreamConfig config, NettyHttpClient http, TokenCache tokens, Metrics metrics, BodyBudget budget,
                          CredentialSource credentials) {
        this.credentials = credentials;
        this.budget = budget;
        this.config = config;
        this.http = http;
        this.tokens = tokens;
        this.metrics = metrics;
        this.boundary = new TrustBoundary(config);
        metrics.upstreamConnections(config.name(), http::originPools, http::openConnections);
        metrics.upstreamCredentialsRefused(config.name(), 0);
    }

    /** The transport of one upstream: its TLS trust (the usual CAs plus its caFile), its deadlines and its egress proxy. */
    public static NettyHttpClient newHttpClient(UpstreamConfig config, ClientLoops loops) throws IOException {
        return new NettyHttpClient(loops, UpstreamTrust.of(config.caFile()), config.timeouts().connect(),
                config.timeouts().response(), config.egress());
    }

    @Override
    public UpstreamConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- endpoints

    @Override
    public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
        String what = "manifest " + reference + " of " + name;
        return send("GET", uri("/v2/" + name + "/manifests/" + reference), accept, scope(name), "manifest")
                .thenCompose(response -> response.status() == 200
                        ? readWhole(response, config.maxManifestSize(), MANIFEST_COPIES).thenApply(held -> UpstreamResult.ok(
                                new ManifestBody(mediaType(response), response.header("Docker-Content-Digest"), held.bytes(),
                                        held.permit())))
                        : refusedWithBody(response))
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference, List<String> accept) {
        String what = "manifest " + reference + " of " + name;
        return send("HEAD", uri("/v2/" + name + "/manifests/" + reference), accept, scope(name), "manifest")
                .thenApply(response -> {
                    response.discard();
                    return response.status() == 200
                            ? UpstreamResult.ok(new ManifestHead(response.header("Docker-Content-Digest")))
                            : UpstreamResult.<ManifestHead>refused(refusal(response, null));
                })
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    @Override
    public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
        String what = "blob " + digest + " of " + name;
        return send("GET", uri("/v2/" + name + "/blobs/" + digest), List.of(), scope(name), "blob")
                .thenCompose(response -> followRedirects(response, scope(name), 0))
                .thenApply(response -> {
                    if (response.status() != 200) {
                        response.discard();
                        return UpstreamResult.<BlobBody>refused(refusal(response, null));
                    }
                    return UpstreamResult.ok(new BlobBody(contentLength(response), response));
                })
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    @Override
    public CompletableFuture<UpstreamResult<Long>> headBlob(RepositoryName name, Digest digest) {
        String what = "blob " + digest + " of " + name;
        return send("HEAD", uri("/v2/" + name + "/blobs/" + digest), List.of(), scope(name), "blob")
                .thenApply(response -> {
                    response.discard();
                    if (response.status() != 200) {
                        return UpstreamResult.<Long>refused(refusal(response, null));
                    }
                    long size = contentLength(response);
                    return size < 0 ? UpstreamResult.<Long>refused(new Refusal.Unavailable("it sent no Content-Length for " + what))
                            : UpstreamResult.ok(size);
                })
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    @Override
    public CompletableFuture<UpstreamResult<Listing>> listing(RepositoryName name, String pathAndQuery, String kind) {
        String what = kind + " of " + name;
        return send("GET", uri("/v2/" + name + "/" + pathAndQuery), List.of("application/json"), scope(name), kind)
                .thenCompose(response -> response.status() == 200
                        ? readWhole(response, MAX_LISTING, 1).thenApply(held -> UpstreamResult.ok(new Listing(
                                response.header("Content-Type").orElse("application/json"), held.bytes(), response.header("Link"),
                                response.header("OCI-Filters-Applied"), held.permit())))
                        : refusedWithBody(response))
                .exceptionally(failure -> UpstreamResult.refused(refusal(failure, what)));
    }

    /** A whole body in memory and the share of the budget it holds. */
    private record Held(byte[] bytes, BodyBudget.Permit permit) {}

    /**
     * Reads a whole body of at most {@code limit} bytes, after reserving {@code copies} times its
     * size in the {@link BodyBudget}: the declared length, or the limit when none is declared. The
     * body is not read while the request waits for room; a declared length past the limit is
     * refused before a byte is read.
     */
    private CompletableFuture<Held> readWhole(UpstreamResponse response, long limit, int copies) {
        long declared = contentLength(response);
        if (declared > limit) {
            response.cancel("too large");
            return CompletableFuture.failedFuture(new BodyTooLarge("it declares " + declared + " bytes, more than " + limit));
        }
        // A body of unknown length (chunked) reserves its limit, at most the whole budget.
        long expected = declared >= 0 ? declared : Math.min(limit, budget.capacity() / copies);
        return budget.reserve(expected * copies, manifestTimeout())
                .whenComplete((permit, refused) -> {
                    if (refused != null) {
                        response.cancel("no memory for its body");
                    }
                })
                .thenCompose(permit -> response.aggregate((int) expected, manifestTimeout())
                        .whenComplete((bytes, failure) -> {
                            if (failure != null) {
                                permit.close();
                            }
                        })
                        .thenApply(bytes -> new Held(bytes, permit)));
    }

    /** A refusal that may carry the upstream's own OCI error body: read it (bounded) to pass it on. */
    private <T> CompletableFuture<UpstreamResult<T>> refusedWithBody(UpstreamResponse response) {
        return response.aggregate(MAX_ERROR_BODY, manifestTimeout())
                .handle((body, failure) -> UpstreamResult.refused(refusal(response, failure == null ? body : null)));
    }

    private Duration manifestTimeout() {
        return config.timeouts().manifest();
    }

    private static long contentLength(UpstreamResponse response) {
        try {
            return response.header("Content-Length").map(Long::parseLong).orElse(-1L);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    // ---------------------------------------------------------------- what an answer means

    /** An answer other than 200, as a refusal; {@code body} is its body when it was read. */
    private Refusal refusal(UpstreamResponse response, byte[] body) {
        int status = response.status();
        boolean ociBody = body != null && body.length > 0 && body.length < MAX_ERROR_BODY
                && response.header("Content-Type").map(t -> t.startsWith("application/json")).orElse(false)
                && new String(body, StandardCharsets.UTF_8).contains("\"errors\"");
        if ((status == 400 || status == 404 || status == 406) && ociBody) {
            return new Refusal.OwnError(status, body);
        }
        switch (status) {
            case 404:
                return new Refusal.NotFound();
            case 401:
                if (response.header("WWW-Authenticate").orElse("").contains("insufficient_scope")) {
                    return new Refusal.InsufficientScope();
                }
                return credentials.configured() ? credentialsRefused(401) : new Refusal.Unauthorized();
            case 403:
                return credentials.configured() ? credentialsRefused(403) : new Refusal.Denied();
            case 429:
                return new Refusal.RateLimited(response.header("Retry-After"));
            default:
                if (status >= 500) {
                    return new Refusal.ServerError(status);
                }
                return status >= 400 && status < 500 ? new Refusal.Rejected(status) : new Refusal.Unavailable("it answered " + status);
        }
    }

    /**
     * The upstream (or its realm) refused the credentials the proxy sent, after the auth loop tried
     * fresh ones: counted, said once per burst, and served like an outage where something is cached.
     */
    private Refusal credentialsRefused(int status) {
        metrics.upstreamCredentialsRefused(config.name(), 1);
        warnOncePerBurst("manifests and blobs", "it refused the proxy's credentials (" + status + ")");
        return new Refusal.CredentialsRefused(status);
    }

    /** A request that failed before an answer: what went wrong, in words a person can act on. */
    private Refusal refusal(Throwable failure, String what) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof TransportTimeout) {
            return new Refusal.TimedOut(cause.getMessage());
        }
        if (cause instanceof CredentialFailure noCredentials) {
            warnOncePerBurst(what, noCredentials.getMessage());
            return new Refusal.Unavailable(noCredentials.getMessage());
        }
        if (cause instanceof TokenFailure token) {
            warnOncePerBurst(what, token.getMessage());
            return token.isTimeout() ? new Refusal.TimedOut(token.getMessage()) : new Refusal.Unavailable(token.getMessage());
        }
        if (cause instanceof BodyTooLarge) {
            return new Refusal.Unavailable(what + " is too large (" + cause.getMessage() + "; upstreams[].maxManifestSize)");
        }
        if (cause instanceof BodyBudget.TooLarge) {
            return new Refusal.Unavailable(what + " is too large: " + cause.getMessage());
        }
        if (cause instanceof BodyBudget.Exhausted) {
            return new Refusal.Busy(cause.getMessage());
        }
        String reason = FailureReasons.describe(cause, config.url().getHost());
        warnOncePerBurst(what, reason);
        return new Refusal.Unavailable(reason);
    }

    /** An unreachable upstream fails every request alike: say so at WARN once per burst, not once per request. */
    private void warnOncePerBurst(String what, String reason) {
        long now = System.nanoTime();
        long last = lastFailureWarning;
        if (now - last > FAILURE_WARNING_INTERVAL.toNanos() || last == 0) {
            lastFailureWarning = now;
            LOG.warn("upstream {} failed ({}) fetching {}; further failures within {}s are not logged",
                    config.name(), reason, what, FAILURE_WARNING_INTERVAL.toSeconds());
        }
    }

    // ---------------------------------------------------------------- the auth loop

    /** An {@code Authorization} value, and the credentials it carries when it is Basic (to know what was refused). */
    private record Auth(String header, Optional<Credentials> basic) {
        static Auth bearer(String token) {
            return new Auth("Bearer " + token, Optional.empty());
        }

        static Auth basic(Credentials credentials) {
            return new Auth(credentials.basic(), Optional.of(credentials));
        }
    }

    /**
     * The one auth loop: send with what is known, and on a {@code 401} answer the challenge once.
     * A second {@code 401} goes back to the caller: Docker Hub answers a missing or private
     * repository that way, and it must not become a loop. Only when Basic credentials were refused
     * are fresh ones asked for (a rotated password, a helper's new answer) and tried once more.
     */
    private CompletableFuture<UpstreamResponse> send(String method, URI uri, List<String> accept, String scope, String kind) {
        return authorization(scope).thenCompose(sent -> exchangeWith(method, uri, accept, sent, kind)
                .thenCompose(response -> {
                    if (response.status() != 401) {
                        return CompletableFuture.completedFuture(response);
                    }
                    if (sent.isPresent() && sent.get().basic().isPresent()) {
                        return retryWithFresh(method, uri, accept, kind, response, sent.get().basic().get());
                    }
                    return challenged(method, uri, accept, scope, kind, sent, response);
                }));
    }

    /** A {@code 401} to what was sent: answer its challenge and try once more. */
    private CompletableFuture<UpstreamResponse> challenged(String method, URI uri, List<String> accept, String scope, String kind,
                                                           Optional<Auth> sent, UpstreamResponse response) {
        if (sent.isPresent() && sent.get().header().startsWith("Bearer ")) {
            tokens.invalidate(config.name(), scope); // expired or revoked: the retry needs a fresh one
        }
        Optional<Challenge> challenge = Challenge.parse(response.header("WWW-Authenticate").orElse(null));
        if (challenge.isEmpty()) {
            return CompletableFuture.completedFuture(response);
        }
        return answer(challenge.get(), scope).whenComplete((auth, failure) -> {
            if (failure != null) {
                response.discard(); // no token to retry with: the 401's body is not wanted either
            }
        }).thenCompose(retryAuth -> {
            if (retryAuth.isEmpty()) {
                return CompletableFuture.completedFuture(response);
            }
            response.discard();
            return exchangeWith(method, uri, accept, retryAuth, kind).thenCompose(retried ->
                    retried.status() == 401 && retryAuth.get().basic().isPresent()
                            ? retryWithFresh(method, uri, accept, kind, retried, retryAuth.get().basic().get())
                            : CompletableFuture.completedFuture(retried));
        });
    }

    /**
     * The upstream refused Basic credentials: try once with fresher ones when the source has any
     * (one helper run or file read per burst of refusals, shared by the requests of that burst).
     */
    private CompletableFuture<UpstreamResponse> retryWithFresh(String method, URI uri, List<String> accept, String kind,
                                                               UpstreamResponse refused, Credentials used) {
        return credentials.afterRefusal(Optional.of(used)).whenComplete((fresh, failure) -> {
            if (failure != null) {
                refused.discard();
            }
        }).thenCompose(fresh -> {
            if (fresh.isEmpty() || fresh.get().equals(used) || !boundary.mayReceiveCredentials()) {
                return CompletableFuture.completedFuture(refused);
            }
            refused.discard();
            return exchangeWith(method, uri, accept, Optional.of(Auth.basic(fresh.get())), kind);
        });
    }

    private CompletableFuture<Optional<Auth>> answer(Challenge challenge, String scope) {
        if (challenge.scheme().equals("bearer")) {
            return tokens.getOrFetch(config.name(), scope, () -> fetchToken(challenge, scope))
                    .thenApply(token -> token.map(Auth::bearer));
        }
        if (challenge.scheme().equals("basic") && credentials.configured()) {
            basicRequired = true;
            return basic();
        }
        return CompletableFuture.completedFuture(Optional.empty());
    }

    /** What to send up front: Basic once the upstream asked for it, else a cached token for the scope. */
    private CompletableFuture<Optional<Auth>> authorization(String scope) {
        if (basicRequired) {
            return basic();
        }
        return CompletableFuture.completedFuture(tokens.get(config.name(), scope).map(Auth::bearer));
    }

    /** Basic credentials for the upstream itself, unless that would send them in clear text off this machine. */
    private CompletableFuture<Optional<Auth>> basic() {
        return boundary.mayReceiveCredentials()
                ? credentials.current().thenApply(c -> c.map(Auth::basic))
                : CompletableFuture.completedFuture(Optional.empty());
    }

    /**
     * GET realm?service=..&scope=.. (Basic with configured credentials), as the token spec describes,
     * if the realm is within the upstream's trust boundary. A realm that answers other than 200 gives
     * no token (the upstream's 401 then stands); one that cannot be asked, times out or sends no
     * token fails with a {@link TokenFailure} saying which.
     */
    private CompletableFuture<Optional<TokenCache.Token>> fetchToken(Challenge challenge, String ourScope) {
        Optional<URI> tokenUri;
        try {
            tokenUri = tokenUri(challenge, ourScope);
        } catch (TokenFailure refused) {
            return CompletableFuture.failedFuture(refused);
        }
        if (tokenUri.isEmpty()) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        String host = tokenUri.get().getHost();
        return askRealm(tokenUri.get())
                .thenCompose(response -> readTokenAnswer(response, host))
                .exceptionallyCompose(failure -> CompletableFuture.<Optional<TokenCache.Token>>failedFuture(tokenFailure(failure, host)));
    }

    /**
     * realm?service=..&scope=.. for {@code challenge} (its own scope first, else {@code ourScope}; none
     * when both are empty, as {@code docker login} asks), or empty when it names no realm; a
     * {@link TokenFailure} when the realm is unusable or outside the upstream's trust boundary.
     */
    Optional<URI> tokenUri(Challenge challenge, String ourScope) throws TokenFailure {
        Optional<String> realm = challenge.param("realm");
        if (realm.isEmpty()) {
            return Optional.empty();
        }
        String scope = challenge.param("scope").orElse(ourScope);
        List<String> query = new ArrayList<>();
        challenge.param("service").ifPresent(s -> query.add("service=" + encode(s)));
        if (scope != null && !scope.isEmpty()) {
            query.add("scope=" + encode(scope));
        }
        String url = realm.get() + (query.isEmpty() ? "" : (realm.get().contains("?") ? "&" : "?") + String.join("&", query));
        URI tokenUri;
        try {
            tokenUri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new TokenFailure("the upstream named an unusable token realm " + realm.get(), false);
        }
        Optional<String> refusal = boundary.realmRefusal(tokenUri);
        if (refusal.isPresent()) {
            throw new TokenFailure(refusal.get(), false);
        }
        return Optional.of(tokenUri);
    }

    /**
     * GET {@code tokenUri} with the configured credentials where the boundary lets them go, and once
     * more with fresher ones when the realm refused them: the realm's answer, its body unread.
     */
    CompletableFuture<UpstreamResponse> askRealm(URI tokenUri) {
        CompletableFuture<Optional<Credentials>> ours = boundary.mayReceiveCredentials(tokenUri)
                ? credentials.current() : CompletableFuture.completedFuture(Optional.empty());
        return ours.thenCompose(sent -> exchangeWith("GET", tokenUri, List.of(), sent.map(Auth::basic), "token")
                .thenCompose(response -> refusedByRealm(response, sent)
                        ? retryTokenWithFresh(tokenUri, response, sent.get())
                        : CompletableFuture.completedFuture(response)));
    }

    private static boolean refusedByRealm(UpstreamResponse response, Optional<Credentials> sent) {
        return sent.isPresent() && (response.status() == 401 || response.status() == 403);
    }

    /** The realm refused the credentials: ask it once more with fresher ones, when the source has any. */
    private CompletableFuture<UpstreamResponse> retryTokenWithFresh(URI tokenUri, UpstreamResponse refused, Credentials used) {
        return credentials.afterRefusal(Optional.of(used)).whenComplete((fresh, failure) -> {
            if (failure != null) {
                refused.discard();
            }
        }).thenCompose(fresh -> {
            if (fresh.isEmpty() || fresh.get().equals(used)) {
                return CompletableFuture.completedFuture(refused);
            }
            refused.discard();
            return exchangeWith("GET", tokenUri, List.of(), Optional.of(Auth.basic(fresh.get())), "token");
        });
    }

    private CompletableFuture<Optional<TokenCache.Token>> readTokenAnswer(UpstreamResponse response, String host) {
        if (response.status() != 200) {
            response.discard();
            LOG.warn("token server {} of upstream {} answered {}", host, config.name(), response.status());
            return CompletableFuture.completedFuture(Optional.empty());
        }
        return response.aggregate(MAX_TOKEN, manifestTimeout()).thenApply(body -> Optional.of(readToken(body, host)));
    }

    /** What went wrong fetching a token, in words: timed out, too large, not JSON, unreachable. */
    TokenFailure tokenFailure(Throwable failure, String host) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof TokenFailure token) {
            return token;
        }
        if (cause instanceof CredentialFailure noCredentials) {
            return new TokenFailure(noCredentials.getMessage(), false);
        }
        if (cause instanceof TransportTimeout) {
            return new TokenFailure("fetching a token from " + host + " timed out: " + cause.getMessage(), true);
        }
        if (cause instanceof BodyTooLarge) {
            return new TokenFailure("the token server " + host + " sent more than " + (MAX_TOKEN >> 20)
                    + " MiB, which no token is", false);
        }
        return new TokenFailure("fetching a token from " + host + " failed: " + FailureReasons.describe(cause, host), false);
    }

    static TokenCache.Token readToken(byte[] bytes, String host) {
        JsonNode body;
        try {
            body = JSON.readTree(bytes);
        } catch (IOException e) {
            String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
            throw new CompletionException(new TokenFailure("the token server " + host + " sent malformed JSON (" + reason + ")", false));
        }
        String token = body == null ? null : body.hasNonNull("token") ? body.get("token").asText() : body.path("access_token").asText(null);
        if (token == null || token.isEmpty()) {
            throw new CompletionException(new TokenFailure("the token server " + host
                    + " answered without a token (neither 'token' nor 'access_token')", false));
        }
        long lifetime = body.path("expires_in").asLong(60);
        return new TokenCache.Token(token, Duration.ofSeconds(Math.max(lifetime, 1)));
    }

    // ---------------------------------------------------------------- for check --upstreams (issue 27)

    /** The transport, for the check's route probe and its plain {@code GET /v2/}. */
    NettyHttpClient transport() {
        return http;
    }

    /** Where this upstream's credentials come from, for the check's token step. */
    CredentialSource credentialSource() {
        return credentials;
    }

    /** Where this upstream's credentials may go, for the check's token step. */
    TrustBoundary trustBoundary() {
        return boundary;
    }

    /** A token the check fetched for {@code scope}: its rate limit HEAD then needs no second one. */
    void remember(String scope, TokenCache.Token token) {
        tokens.put(config.name(), scope, token);
    }

    /** {@code method path} through the auth loop pulls use: anonymous first, then the challenge answered. */
    CompletableFuture<UpstreamResponse> authorized(String method, String path, List<String> accept, String scope, String kind) {
        return send(method, uri(path), accept, scope, kind);
    }

    // ---------------------------------------------------------------- transport

    /**
     * A redirect (Docker Hub: 307 to a CDN) is followed by hand, to http(s) targets only, with
     * credentials only on the upstream's own origin (scheme, host and port: never after a downgrade).
     */
    private CompletableFuture<UpstreamResponse> followRedirects(UpstreamResponse response, String scope, int hops) {
        if (!isRedirect(response.status()) || hops >= MAX_REDIRECTS) {
            return CompletableFuture.completedFuture(response);
        }
        response.discard();
        Optional<String> location = response.header("Location");
        if (location.isEmpty()) {
            return CompletableFuture.failedFuture(new IOException("it redirected without a Location"));
        }
        URI target;
        try {
            target = response.uri().resolve(location.get());
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(new IOException("it redirected to an unusable Location " + location.get()));
        }
        if (!TrustBoundary.isFetchable(target)) {
            return CompletableFuture.failedFuture(new IOException("it redirected to " + target + ", which is not an http or https URL"));
        }
        CompletableFuture<Optional<Auth>> auth = boundary.mayFollowWithCredentials(target)
                ? authorization(scope) : CompletableFuture.completedFuture(Optional.empty());
        return auth.thenCompose(sent -> exchange("GET", target, List.of(), sent.map(Auth::header), "blob"))
                .thenCompose(next -> followRedirects(next, scope, hops + 1));
    }

    /**
     * An exchange with an {@code Authorization}: when it carried our Basic credentials and the answer
     * was not a refusal of them, the credential source learns they work (a burst of refusals ended).
     */
    private CompletableFuture<UpstreamResponse> exchangeWith(String method, URI uri, List<String> accept, Optional<Auth> auth,
                                                             String kind) {
        return exchange(method, uri, accept, auth.map(Auth::header), kind).whenComplete((response, failure) -> {
            if (failure == null && auth.isPresent() && auth.get().basic().isPresent()
                    && response.status() != 401 && response.status() != 403) {
                credentials.accepted(auth.get().basic().get());
            }
        });
    }

    private CompletableFuture<UpstreamResponse> exchange(String method, URI uri, List<String> accept,
                                                         Optional<String> authorization, String kind) {
        List<String[]> headers = new ArrayList<>();
        for (String value : accept) {
            headers.add(new String[] {"Accept", value});
        }
        authorization.ifPresent(a -> headers.add(new String[] {"Authorization", a}));
        return http.send(method, uri, headers).whenComplete((response, failure) -> {
            if (failure == null) {
                metrics.upstreamRequest(config.name(), method, kind, response.status());
                if (response.status() == 429) {
                    metrics.upstreamRateLimited(config.name());
                }
                recordRateLimit(response);
                if (response.status() >= 500 || response.status() == 429 || response.status() == 403) {
                    metrics.upstreamError(config.name(), method + " " + uri.getPath() + ": HTTP " + response.status());
                }
            } else {
                metrics.upstreamRequest(config.name(), method, kind, 0);
                Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
                metrics.upstreamError(config.name(), method + " " + uri.getPath() + ": "
                        + (cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage()));
            }
        });
    }

    /** Docker Hub's {@code ratelimit-limit: 100;w=21600} and {@code ratelimit-remaining: 76;w=21600}. */
    private void recordRateLimit(UpstreamResponse response) {
        response.header("ratelimit-remaining").map(UpstreamClient::leadingNumber)
                .ifPresent(remaining -> metrics.upstreamRateLimitRemaining(config.name(), remaining));
        response.header("ratelimit-limit").map(UpstreamClient::leadingNumber)
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
    private static String mediaType(UpstreamResponse response) {
        String type = response.header("Content-Type").orElse(MediaTypes.DOCKER_MANIFEST_V1_SIGNED);
        int semicolon = type.indexOf(';');
        return (semicolon < 0 ? type : type.substring(0, semicolon)).trim();
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
