package dev.pullthrough.proxy;

import dev.pullthrough.access.PullerAuthenticator;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.registry.api.Route;
import dev.pullthrough.registry.api.RouteParser;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pull API from request line to answer: parse and validate, choose the upstream, and run the
 * service on the worker pool (services block on disk, RocksDB and upstreams; the event loop must not).
 */
public final class PullApi {
    private static final Logger LOG = LoggerFactory.getLogger(PullApi.class);

    private final UpstreamRouter router;
    private final ManifestService manifests;
    private final BlobService blobs;
    private final ListingService listings;
    private final CatalogService catalog;
    private final PullCounts pulls;
    private final BlobRedirects redirects;
    private final Executor workers;
    private final Metrics metrics;
    private final PullerAuthenticator pullers;

    public PullApi(UpstreamRouter router, ManifestService manifests, BlobService blobs, ListingService listings,
                   CatalogService catalog, Executor workers, Metrics metrics, PullerAuthenticator pullers, PullCounts pulls, BlobRedirects redirects) {
        this.redirects = redirects;
        this.pulls = pulls;
        this.catalog = catalog;
        this.metrics = metrics;
        this.pullers = pullers;
        this.router = router;
        this.manifests = manifests;
        this.blobs = blobs;
        this.listings = listings;
        this.workers = workers;
    }

    /**
     * A response, the headers that go with it whatever it is (e.g. {@code OCI-Namespace}), the kind
     * of route, and the upstream it concerned ({@code -} when none).
     */
    public record Reply(ProxyResponse response, Map<String, String> headers, String route, String upstream) {}

    /**
     * Answers one request; {@code range} is its {@code Range} header (used for blobs) and
     * {@code authorization} its credentials for this proxy (checked off the event loop: bcrypt is slow).
     */
    public CompletableFuture<Reply> handle(String method, String uri, List<String> accept, Optional<String> range,
                                           Optional<String> authorization) {
        if (!pullers.required()) {
            return route(method, uri, accept, range);
        }
        return CompletableFuture.supplyAsync(() -> pullers.allows(authorization), workers)
                .thenCompose(allowed -> allowed ? route(method, uri, accept, range) : done(new ProxyResponse.Error(
                        new ApiError(ErrorCode.UNAUTHORIZED, authorization.isPresent()
                                ? "wrong user name or password for this proxy" : "this proxy needs a user name and password"),
                        Map.of("WWW-Authenticate", PullerAuthenticator.CHALLENGE)), Map.of(), "unauthorized"));
    }

    /** Whether these credentials may use this proxy (admin paths on a shared port ask too). Blocking. */
    public boolean allows(Optional<String> authorization) {
        return pullers.allows(authorization);
    }

    private CompletableFuture<Reply> route(String method, String uri, List<String> accept, Optional<String> range) {
        RouteParser.Parsed parsed = RouteParser.parse(method, uri);
        if (parsed.error().isPresent()) {
            return done(new ProxyResponse.Error(parsed.error().get(), Map.of()), Map.of(), "invalid");
        }
        Route route = parsed.route().orElseThrow();
        if (route instanceof Route.Base) {
            return done(new ProxyResponse.Json(200, "application/json", "{}".getBytes(), Map.of()), Map.of(), "base");
        }
        if (route instanceof Route.Catalog) {
            return CompletableFuture.supplyAsync(() -> new Reply(catalog.list((Route.Catalog) route), Map.of(), "catalog", "-"),
                    workers);
        }
        UpstreamRouter.Result routed = router.route(nameOf(route), Optional.ofNullable(parsed.query().get("ns")));
        if (routed.error().isPresent()) {
            return done(new ProxyResponse.Error(routed.error().get(), Map.of()), Map.of(), kindOf(route));
        }
        Target target = routed.target().orElseThrow();
        metrics.routed(target.upstreamName(), target.routedBy());
        Map<String, String> headers = target.namespace() == null ? Map.of() : Map.of("OCI-Namespace", target.namespace());
        boolean head = method.equals("HEAD");
        if (route instanceof Route.Manifest) {
            Optional<ProxyResponse> hot = manifests.fromMemory(target, ((Route.Manifest) route).reference(), accept);
            if (hot.isPresent()) {
                return done(counted(target, head, hot.get()), headers, "manifest", target.upstreamName());
            }
        }
        return CompletableFuture.supplyAsync(() -> serve(target, route, head, accept, range), workers)
                .thenCompose(answer -> answer)
                .exceptionally(failure -> failedServing(route, target, failure))
                .thenApply(answer -> new Reply(counted(target, head, answer), headers, kindOf(route), target.upstreamName()));
    }

    /**
     * A manifest GET is a pull of that manifest (Docker Hub counts GETs, not HEADs); answered from
     * the cache, it is a pull the upstream did not count.
     */
    private ProxyResponse counted(Target target, boolean head, ProxyResponse response) {
        if (!head && response instanceof ProxyResponse.Manifest manifest) {
            pulls.pulled(target.upstreamName(), target.repository().value(), manifest.digest());
            if (manifest.fromCache()) {
                metrics.upstreamPullSaved(target.upstreamName());
            }
        }
        return response;
    }

    /** Runs on a worker: the services block on the disk and the metadata store, never on the upstream. */
    private CompletableFuture<ProxyResponse> serve(Target target, Route route, boolean head, List<String> accept,
                                                   Optional<String> range) {
        try {
            if (route instanceof Route.Manifest) {
                return manifests.get(target, ((Route.Manifest) route).reference(), accept);
            }
            if (route instanceof Route.Blob blob) {
                Optional<URI> elsewhere = head ? Optional.empty() : redirects.locate(target, blob.digest());
                if (elsewhere.isPresent()) {
                    return CompletableFuture.completedFuture(new ProxyResponse.Redirect(blob.digest(), elsewhere.get()));
                }
                return blobs.get(target, blob.digest(), head, range);
            }
            if (route instanceof Route.Tags) {
                return listings.tags(target, (Route.Tags) route);
            }
            return listings.referrers(target, (Route.Referrers) route);
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static ProxyResponse failedServing(Route route, Target target, Throwable failure) {
        Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        LOG.error("serving {} from {} failed", route, target.upstreamName(), cause);
        return new ProxyResponse.Error(new ApiError(ErrorCode.UNKNOWN, "the proxy failed serving this request: "
                + cause.getMessage()), Map.of());
    }

    private static CompletableFuture<Reply> done(ProxyResponse response, Map<String, String> headers, String route) {
        return done(response, headers, route, "-");
    }

    private static CompletableFuture<Reply> done(ProxyResponse response, Map<String, String> headers, String route,
                                                 String upstream) {
        return CompletableFuture.completedFuture(new Reply(response, headers, route, upstream));
    }

    private static dev.pullthrough.oci.RepositoryName nameOf(Route route) {
        if (route instanceof Route.Manifest) {
            return ((Route.Manifest) route).name();
        }
        if (route instanceof Route.Blob) {
            return ((Route.Blob) route).name();
        }
        if (route instanceof Route.Tags) {
            return ((Route.Tags) route).name();
        }
        return ((Route.Referrers) route).name();
    }

    private static String kindOf(Route route) {
        if (route instanceof Route.Manifest) {
            return "manifest";
        }
        if (route instanceof Route.Blob) {
            return "blob";
        }
        if (route instanceof Route.Tags) {
            return "tags";
        }
        return "referrers";
    }
}
