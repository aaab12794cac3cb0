package dev.pullthrough.proxy;

import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import java.net.http.HttpHeaders;
import java.net.http.HttpTimeoutException;
import java.util.Map;

/** Turns what an upstream answered (or how it failed) into what the client gets. */
final class UpstreamErrors {
    private UpstreamErrors() {}

    /**
     * An upstream's refusal. A 400, 404 or 406 that carries an OCI error body is passed through as
     * is: the client sees what the upstream said (e.g. the reference registry's "OCI manifest found,
     * but accept header does not support OCI manifests"). Others map to our own error.
     */
    static ProxyResponse fromUpstream(int status, HttpHeaders headers, byte[] body, ErrorCode notFound, String what,
                                      String upstream) {
        boolean json = headers.firstValue("Content-Type").map(t -> t.startsWith("application/json")).orElse(false);
        if ((status == 400 || status == 404 || status == 406) && json && body != null && body.length > 0
                && body.length < 64 * 1024 && new String(body, java.nio.charset.StandardCharsets.UTF_8).contains("\"errors\"")) {
            return new ProxyResponse.Json(status, "application/json", body, Map.of());
        }
        return forStatus(status, headers, notFound, what, upstream);
    }

    static ProxyResponse.Error forStatus(int status, HttpHeaders headers, ErrorCode notFound, String what, String upstream) {
        switch (status) {
            case 404:
                return error(notFound, what + " is not known to upstream " + upstream);
            case 401:
                if (headers.firstValue("WWW-Authenticate").orElse("").contains("insufficient_scope")) {
                    // Docker Hub's answer, after a fresh token, for a repository that is missing or private.
                    return error(ErrorCode.NAME_UNKNOWN, what + ": the repository does not exist upstream " + upstream
                            + " or the proxy's credentials may not pull it");
                }
                return error(ErrorCode.UNAUTHORIZED, "upstream " + upstream + " refused the proxy's credentials for " + what
                        + "; check upstreams[].username and password");
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

    /** Whether an answer means the upstream is down or limiting us (serve stale), not that the thing is gone. */
    static boolean isOutage(int status) {
        return status == 429 || status >= 500;
    }

    static ProxyResponse.Error error(ErrorCode code, String message) {
        return new ProxyResponse.Error(new ApiError(code, message), Map.of());
    }
}
