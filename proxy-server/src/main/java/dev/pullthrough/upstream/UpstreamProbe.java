package dev.pullthrough.upstream;

import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.upstream.auth.Challenge;
import dev.pullthrough.upstream.auth.CredentialFailure;
import dev.pullthrough.upstream.auth.Credentials;
import dev.pullthrough.upstream.auth.TokenCache;
import dev.pullthrough.upstream.http.RouteStep;
import dev.pullthrough.upstream.http.UpstreamResponse;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

/**
 * Tries one upstream the way a pull reaches it and says, step by step, what works and why not (issue
 * 27): the route ({@code dns}, {@code connect}, {@code proxy}, {@code tls}) on the upstream's own
 * transport, then {@code GET /v2/} and its {@code challenge}, a {@code token} from its realm with its
 * credentials (a credential helper run as for pulls), and the {@code rate limit} it announces. Docker
 * Hub announces its limit only on manifest requests: there the check sends one HEAD of the manifest
 * Docker documents for the purpose, which does not count against the limit. Asynchronous; every step
 * has the upstream's deadlines; name lookups run on the given executor. The first failing step ends
 * the check, the later ones are reported as skipped. Never fails: a surprise is a failed step too.
 */
public final class UpstreamProbe {
    /** The steps, in the order they run. */
    public static final List<String> STEPS = List.of("dns", "connect", "proxy", "tls", "challenge", "token", "rate limit");
    /** Docker's documented repository for reading the limit: {@code HEAD} of its manifest is free. */
    static final String RATE_LIMIT_REPOSITORY = "ratelimitpreview/test";
    private static final List<String> MANIFEST_TYPES = List.of(MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST,
            MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.DOCKER_MANIFEST_V2);

    private final UpstreamClient client;
    private final Executor resolver;
    private final Clock clock;

    /** {@code resolver}: where name lookups block (never an event loop). */
    public UpstreamProbe(UpstreamClient client, Executor resolver, Clock clock) {
        this.client = client;
        this.resolver = resolver;
        this.clock = clock;
    }

    public String upstream() {
        return client.config().name();
    }

    /** Runs every step; completes with the result, never exceptionally. */
    public CompletableFuture<UpstreamCheck> run() {
        return new Run().start();
    }

    /** How the upstream answered {@code GET /v2/}: nothing asked, a Bearer challenge, or Basic. */
    private record Auth(Optional<Challenge> bearer, boolean basic) {
        static final Auth NONE = new Auth(Optional.empty(), false);
    }

    /** A rate limit as announced in headers ({@code ratelimit-limit: 100;w=21600}, {@code ratelimit-remaining: 76;w=21600}). */
    private record RateLimit(String limit, String remaining) {
        static Optional<RateLimit> of(UpstreamResponse response) {
            Optional<String> limit = response.header("ratelimit-limit");
            Optional<String> remaining = response.header("ratelimit-remaining");
            return limit.isEmpty() && remaining.isEmpty() ? Optional.empty()
                    : Optional.of(new RateLimit(limit.orElse("?"), remaining.orElse("?")));
        }

        boolean exhausted() {
            return remaining.startsWith("0;") || remaining.equals("0");
        }

        String describe() {
            String window = window(limit);
            return number(remaining) + " of " + number(limit) + " left" + (window.isEmpty() ? "" : " per " + window + " window");
        }

        private static String number(String value) {
            int semicolon = value.indexOf(';');
            return (semicolon < 0 ? value : value.substring(0, semicolon)).trim();
        }

        private static String window(String value) {
            int w = value.indexOf("w=");
            if (w < 0) {
                return "";
            }
            String seconds = value.substring(w + 2).replaceAll("[^0-9].*", "");
            if (seconds.isEmpty() || seconds.length() > 9) {
                return "";
            }
            long s = Long.parseLong(seconds);
            return s % 3600 == 0 ? s / 3600 + "h" : s + "s";
        }
    }

    /** One check: its steps so far, each timed from the end of the previous one. */
    private final class Run {
        private final Instant startedAt = clock.instant();
        private final long startedNanos = System.nanoTime();
        private final List<CheckStep> steps = new ArrayList<>();
        private long stepStarted = startedNanos;
        private Optional<RateLimit> announced = Optional.empty();

        CompletableFuture<UpstreamCheck> start() {
            return client.transport().probeRoute(uri("/v2/"), resolver)
                    .thenCompose(this::afterRoute)
                    .exceptionally(this::surprise)
                    .thenApply(done -> result());
        }

        // ------------------------------------------------------------ the steps

        private CompletableFuture<Void> afterRoute(List<RouteStep> route) {
            for (RouteStep step : route) {
                steps.add(new CheckStep(step.name(), step.ok() ? CheckStep.Outcome.OK : CheckStep.Outcome.FAILED,
                        step.detail(), clock.instant(), step.took()));
                stepStarted += step.took().toNanos();
            }
            if (route.isEmpty() || !route.get(route.size() - 1).ok()) {
                return done();
            }
            stepStarted = System.nanoTime();
            // GET /v2/ without credentials: the request every pull's auth loop starts with.
            return client.transport().send("GET", uri("/v2/"), List.of())
                    .handle((response, failure) -> failure == null ? challenged(response) : this.<Auth>failed("challenge", reason(failure)))
                    .thenCompose(auth -> auth.map(this::token).orElseGet(Run::done));
        }

        private Optional<Auth> challenged(UpstreamResponse response) {
            response.discard();
            RateLimit.of(response).ifPresent(limit -> announced = Optional.of(limit));
            int status = response.status();
            if (status == 200) {
                passed("challenge", "200: GET /v2/ asks for no credentials");
                return Optional.of(Auth.NONE);
            }
            if (status == 429) {
                return failed("challenge", "429 Too Many Requests: the upstream's rate limit is spent"
                        + response.header("Retry-After").map(after -> " (Retry-After " + after + ")").orElse(""));
            }
            if (status != 401) {
                return failed("challenge", "GET /v2/ answered " + status + (status == 404 ? ": is " + client.config().url()
                        + " a registry (its API root, without /v2)?" : ""));
            }
            Optional<Challenge> challenge = Challenge.parse(response.header("WWW-Authenticate").orElse(null));
            if (challenge.isEmpty() || !challenge.get().scheme().equals("bearer") && !challenge.get().scheme().equals("basic")) {
                return failed("challenge", "401 without a Bearer or Basic challenge (WWW-Authenticate: "
                        + response.header("WWW-Authenticate").orElse("none") + ")");
            }
            Challenge asked = challenge.get();
            passed("challenge", "401 " + (asked.scheme().equals("bearer") ? "Bearer" : "Basic")
                    + asked.param("realm").map(r -> " realm=" + r).orElse("")
                    + asked.param("service").map(s -> " service=" + s).orElse(""));
            return Optional.of(asked.scheme().equals("bearer") ? new Auth(Optional.of(asked), false) : new Auth(Optional.empty(), true));
        }

        private CompletableFuture<Void> token(Auth auth) {
            CompletableFuture<Boolean> token;
            if (auth.bearer().isPresent()) {
                token = bearerToken(auth.bearer().get());
            } else if (auth.basic()) {
                token = basicAccepted();
            } else {
                passed("token", "none needed: the upstream answers without credentials");
                token = CompletableFuture.completedFuture(true);
            }
            return token.thenCompose(ok -> ok ? rateLimit() : done());
        }

        /** A token from the realm, as a pull asks for one (never cached: the check must ask). */
        private CompletableFuture<Boolean> bearerToken(Challenge challenge) {
            // Docker Hub: the scope the rate limit HEAD needs; elsewhere none, as docker login asks.
            String scope = client.config().isDockerHub() ? "repository:" + RATE_LIMIT_REPOSITORY + ":pull" : "";
            Optional<URI> realm;
            try {
                realm = client.tokenUri(challenge, scope);
            } catch (TokenFailure refused) {
                return CompletableFuture.completedFuture(failed("token", refused.getMessage()).isPresent());
            }
            if (realm.isEmpty()) {
                return CompletableFuture.completedFuture(failed("token", "the Bearer challenge names no realm to ask").isPresent());
            }
            URI tokenUri = realm.get();
            boolean sendsCredentials = client.credentialSource().configured()
                    && client.trustBoundary().mayReceiveCredentials(tokenUri);
            CompletableFuture<Optional<Credentials>> who = sendsCredentials
                    ? client.credentialSource().current() : CompletableFuture.completedFuture(Optional.empty());
            return who.thenCompose(credentials -> client.askRealm(tokenUri)
                            .thenCompose(response -> tokenAnswer(response, tokenUri.getHost(), credentials, scope)))
                    .exceptionally(failure -> {
                        Throwable cause = unwrap(failure);
                        return failed("token", cause instanceof CredentialFailure ? cause.getMessage()
                                : client.tokenFailure(cause, tokenUri.getHost()).getMessage()).isPresent();
                    });
        }

        private CompletableFuture<Boolean> tokenAnswer(UpstreamResponse response, String host, Optional<Credentials> sent,
                                                       String scope) {
            RateLimit.of(response).ifPresent(limit -> announced = Optional.of(limit));
            String as = sent.map(c -> "the credentials of " + c.username()).orElse("an anonymous token");
            int status = response.status();
            if (status != 200) {
                response.discard();
                String hint = sent.isEmpty() && client.credentialSource().configured()
                        ? " (the credentials were not sent: " + host + " is outside the upstream's trust boundary; upstreams[].authHosts)"
                        : sent.isEmpty() ? "; configure upstreams[].username and password, or credentialHelper" : "";
                return CompletableFuture.completedFuture(failed("token", status == 401 || status == 403
                        ? "token server " + host + " refused " + as + " (" + status + ")" + hint
                        : "token server " + host + " answered " + status + " asked for " + as).isPresent());
            }
            return response.aggregate(UpstreamClient.MAX_TOKEN, client.config().timeouts().manifest()).thenApply(body -> {
                TokenCache.Token token = UpstreamClient.readToken(body, host);
                if (!scope.isEmpty()) {
                    client.remember(scope, token); // the rate limit HEAD asks with it: one token request per check
                }
                long lifetime = token.lifetime().toSeconds();
                passed("token", "token server " + host + " gave a token for " + sent.map(c -> c.username()).orElse("anonymous")
                        + ", valid " + lifetime + "s");
                return true;
            });
        }

        /** Basic: {@code GET /v2/} with the credentials, once more with fresher ones after a refusal, as pulls do. */
        private CompletableFuture<Boolean> basicAccepted() {
            if (!client.credentialSource().configured()) {
                return CompletableFuture.completedFuture(failed("token", "the upstream asks for Basic credentials and none are"
                        + " configured: set upstreams[].username and password, or credentialHelper").isPresent());
            }
            if (!client.trustBoundary().mayReceiveCredentials()) {
                return CompletableFuture.completedFuture(failed("token", "the upstream asks for Basic credentials over plain http"
                        + " off this machine; they are never sent so (use https)").isPresent());
            }
            return client.credentialSource().current()
                    .thenCompose(credentials -> sendBasic(credentials.orElseThrow(), true))
                    .exceptionally(failure -> failed("token", reason(failure)).isPresent());
        }

        private CompletableFuture<Boolean> sendBasic(Credentials credentials, boolean mayRetry) {
            return client.transport().send("GET", uri("/v2/"), List.<String[]>of(new String[] {"Authorization", credentials.basic()}))
                    .thenCompose(response -> {
                        response.discard();
                        RateLimit.of(response).ifPresent(limit -> announced = Optional.of(limit));
                        int status = response.status();
                        if (status == 200) {
                            client.credentialSource().accepted(credentials);
                            passed("token", "Basic credentials of " + credentials.username() + " accepted");
                            return CompletableFuture.completedFuture(true);
                        }
                        if ((status == 401 || status == 403) && mayRetry) {
                            return client.credentialSource().afterRefusal(Optional.of(credentials)).thenCompose(fresh ->
                                    fresh.isPresent() && !fresh.get().equals(credentials) ? sendBasic(fresh.get(), false)
                                            : CompletableFuture.completedFuture(refusedBasic(credentials, status)));
                        }
                        return CompletableFuture.completedFuture(refusedBasic(credentials, status));
                    });
        }

        private boolean refusedBasic(Credentials credentials, int status) {
            return failed("token", status == 401 || status == 403
                    ? "the upstream refused the Basic credentials of " + credentials.username() + " (" + status + ")"
                    : "GET /v2/ with Basic credentials answered " + status).isPresent();
        }

        private CompletableFuture<Void> rateLimit() {
            if (!client.config().isDockerHub()) {
                reportRateLimit(announced, "on GET /v2/ or the token answer");
                return done();
            }
            // HEAD /v2/ratelimitpreview/test/manifests/latest: Docker documents it for this; a HEAD does not count.
            return client.authorized("HEAD", "/v2/" + RATE_LIMIT_REPOSITORY + "/manifests/latest", MANIFEST_TYPES,
                            "repository:" + RATE_LIMIT_REPOSITORY + ":pull", "manifest")
                    .handle((response, failure) -> {
                        if (failure != null) {
                            failed("rate limit", reason(failure));
                            return null;
                        }
                        response.discard();
                        if (response.status() == 429) {
                            failed("rate limit", "spent: HEAD of " + RATE_LIMIT_REPOSITORY + ":latest answered 429"
                                    + response.header("Retry-After").map(after -> " (Retry-After " + after + ")").orElse(""));
                            return null;
                        }
                        reportRateLimit(RateLimit.of(response).or(() -> announced), "on HEAD of " + RATE_LIMIT_REPOSITORY + ":latest");
                        return null;
                    });
        }

        private void reportRateLimit(Optional<RateLimit> limit, String where) {
            if (limit.isEmpty()) {
                passed("rate limit", "none announced " + where);
            } else if (limit.get().exhausted()) {
                failed("rate limit", "spent: " + limit.get().describe() + " " + where + "; uncached pulls get 429 until it refills");
            } else {
                passed("rate limit", limit.get().describe() + " " + where);
            }
        }

        // ------------------------------------------------------------ bookkeeping

        private synchronized void passed(String step, String detail) {
            record(step, CheckStep.Outcome.OK, detail);
        }

        /** Records a failed step; always empty, so that callers can return it as "no way on". */
        private synchronized <T> Optional<T> failed(String step, String detail) {
            record(step, CheckStep.Outcome.FAILED, detail);
            return Optional.empty();
        }

        private void record(String step, CheckStep.Outcome outcome, String detail) {
            if (steps.stream().anyMatch(s -> s.name().equals(step))) {
                return; // a deadline and a late answer: the first word stands
            }
            long now = System.nanoTime();
            steps.add(new CheckStep(step, outcome, detail, clock.instant(), Duration.ofNanos(Math.max(0, now - stepStarted))));
            stepStarted = now;
        }

        /** Something unexpected: the step under way failed, saying what happened. */
        private Void surprise(Throwable failure) {
            String next = STEPS.stream().filter(name -> steps.stream().noneMatch(s -> s.name().equals(name))).findFirst()
                    .orElse("rate limit");
            failed(next, reason(failure));
            return null;
        }

        private synchronized UpstreamCheck result() {
            boolean stopped = steps.stream().anyMatch(CheckStep::failed);
            List<CheckStep> all = new ArrayList<>();
            for (String name : STEPS) {
                all.add(steps.stream().filter(s -> s.name().equals(name)).findFirst().orElseGet(() -> new CheckStep(name,
                        CheckStep.Outcome.SKIPPED, stopped ? "not tried: an earlier step failed" : "not tried",
                        clock.instant(), Duration.ZERO)));
            }
            return new UpstreamCheck(client.config().name(), client.config().url().toString(), startedAt,
                    Duration.ofNanos(System.nanoTime() - startedNanos), all);
        }

        private String reason(Throwable failure) {
            Throwable cause = unwrap(failure);
            if (cause instanceof CredentialFailure || cause instanceof TokenFailure) {
                return cause.getMessage();
            }
            return FailureReasons.describe(cause, client.config().url().getHost());
        }

        private static CompletableFuture<Void> done() {
            return CompletableFuture.completedFuture(null);
        }
    }

    private URI uri(String path) {
        return URI.create(client.config().url() + path);
    }

    private static Throwable unwrap(Throwable failure) {
        Throwable cause = failure;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }
}
