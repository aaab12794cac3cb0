package dev.pullthrough.proxy;

import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.upstream.Refusal;
import java.util.Map;

/** Turns why the upstream did not give something into what the client gets. */
final class UpstreamErrors {
    /** Seconds a client waits before asking again while the proxy's memory for bodies is taken. */
    private static final String RETRY_AFTER_BUSY = "5";

    private UpstreamErrors() {}

    /**
     * The client's answer to a refusal about {@code what}; {@code notFound} is the code for a thing
     * the upstream does not have. The upstream's own OCI error body is passed through as it is.
     */
    static ProxyResponse forRefusal(Refusal refusal, ErrorCode notFound, String what, String upstream) {
        if (refusal instanceof Refusal.OwnError own) {
            return new ProxyResponse.Json(own.status(), "application/json", own.body(), Map.of());
        }
        if (refusal instanceof Refusal.NotFound) {
            return error(notFound, what + " is not known to upstream " + upstream);
        }
        if (refusal instanceof Refusal.InsufficientScope) {
            return error(ErrorCode.NAME_UNKNOWN, what + ": the repository does not exist upstream " + upstream
                    + " or the proxy's credentials may not pull it");
        }
        if (refusal instanceof Refusal.Unauthorized) {
            return error(ErrorCode.UNAUTHORIZED, "upstream " + upstream + " refused the proxy's credentials for " + what
                    + "; check upstreams[].username and password");
        }
        if (refusal instanceof Refusal.CredentialsRefused refused) {
            return error(refused.status() == 403 ? ErrorCode.DENIED : ErrorCode.UNAUTHORIZED, "upstream " + upstream
                    + " refused the proxy's credentials (" + refused.status() + ") for " + what
                    + " and nothing cached fits; check upstreams[].username and password, or its credentialHelper");
        }
        if (refusal instanceof Refusal.Denied) {
            return error(ErrorCode.DENIED, "upstream " + upstream + " denied access to " + what);
        }
        if (refusal instanceof Refusal.RateLimited limited) {
            return new ProxyResponse.Error(new ApiError(ErrorCode.TOOMANYREQUESTS, "upstream " + upstream
                    + " is rate-limiting the proxy"), limited.retryAfter().map(v -> Map.of("Retry-After", v)).orElse(Map.of()));
        }
        if (refusal instanceof Refusal.ServerError serverError) {
            return error(ErrorCode.UPSTREAM_UNAVAILABLE, "upstream " + upstream + " answered " + serverError.status() + " for " + what);
        }
        if (refusal instanceof Refusal.Rejected rejected) {
            return error(ErrorCode.UPSTREAM_UNAVAILABLE, "upstream " + upstream + " answered " + rejected.status() + " for " + what);
        }
        if (refusal instanceof Refusal.Busy busy) {
            return new ProxyResponse.Error(new ApiError(ErrorCode.UNAVAILABLE, "the proxy cannot take " + what + " from upstream "
                    + upstream + " now: " + busy.reason() + "; try again shortly"), Map.of("Retry-After", RETRY_AFTER_BUSY));
        }
        if (refusal instanceof Refusal.TimedOut timedOut) {
            return error(ErrorCode.UPSTREAM_TIMEOUT, "upstream " + upstream + " timed out fetching " + what + ": "
                    + timedOut.reason());
        }
        return error(ErrorCode.UPSTREAM_UNAVAILABLE, "fetching " + what + " from upstream " + upstream + " failed: "
                + ((Refusal.Unavailable) refusal).reason());
    }

    static ProxyResponse.Error error(ErrorCode code, String message) {
        return new ProxyResponse.Error(new ApiError(code, message), Map.of());
    }
}
