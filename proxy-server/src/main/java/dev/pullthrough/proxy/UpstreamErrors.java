package dev.pullthrough.proxy;

import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import java.net.http.HttpHeaders;
import java.net.http.HttpTimeoutException;
import java.util.Map;

/** Turns what an upstream answered (or how it failed) into the OCI error the client gets. */
final class UpstreamErrors {
    private UpstreamErrors() {}

    static ProxyResponse.Error forStatus(int status, HttpHeaders headers, ErrorCode notFound, String what, String upstream) {
        switch (status) {
            case 404:
                return error(notFound, what + " is not known to upstream " + upstream);
            case 401:
                return error(ErrorCode.UNAUTHORIZED, "upstream " + upstream + " refused the proxy's credentials for " + what);
            case 403:
                return error(ErrorCode.DENIED, "upstream " + upstream + " denied access to " + what);
            case 429:
                return new ProxyResponse.Error(new ApiError(ErrorCode.TOOMANYREQUESTS,
                        "upstream " + upstream + " is rate-limiting the proxy"),
                        headers.firstValue("Retry-After").map(v -> Map.of("Retry-After", v)).orElse(Map.of()));
            default:
                return error(ErrorCode.UPSTREAM_UNAVAILABLE, "upstream " + upstream + " answered " + status + " for " + what);
        }
    }

    static ProxyResponse.Error forFailure(Throwable failure, String what, String upstream) {
        if (failure instanceof HttpTimeoutException) {
            return error(ErrorCode.UPSTREAM_TIMEOUT, "upstream " + upstream + " timed out fetching " + what);
        }
        return error(ErrorCode.UPSTREAM_UNAVAILABLE, "fetching " + what + " from upstream " + upstream + " failed: " + failure);
    }

    static ProxyResponse.Error error(ErrorCode code, String message) {
        return new ProxyResponse.Error(new ApiError(code, message), Map.of());
    }
}
