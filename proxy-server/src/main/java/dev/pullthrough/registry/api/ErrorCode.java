package dev.pullthrough.registry.api;

/**
 * The error codes of the OCI distribution spec (and the few the reference registry adds), each with
 * the HTTP status it is sent with. The one place that pairs them.
 */
public enum ErrorCode {
    BLOB_UNKNOWN(404, "blob unknown to registry"),
    DIGEST_INVALID(400, "provided digest did not match uploaded content"),
    MANIFEST_UNKNOWN(404, "manifest unknown"),
    MANIFEST_INVALID(400, "manifest invalid"),
    NAME_INVALID(400, "invalid repository name"),
    NAME_UNKNOWN(404, "repository name not known to registry"),
    TAG_INVALID(400, "manifest tag did not match URI"),
    UNAUTHORIZED(401, "authentication required"),
    DENIED(403, "requested access to the resource is denied"),
    UNSUPPORTED(405, "The operation is unsupported."),
    TOOMANYREQUESTS(429, "too many requests"),
    RANGE_INVALID(416, "invalid content range"),
    NOT_FOUND(404, "not found"),
    URI_TOO_LONG(414, "request URI too long"),
    HEADERS_TOO_LARGE(431, "request header fields too large"),
    BAD_REQUEST(400, "bad request"),
    UPSTREAM_UNAVAILABLE(502, "upstream registry unavailable"),
    UPSTREAM_TIMEOUT(504, "upstream registry timed out"),
    /** The proxy itself is out of a resource for the moment (distribution's code for 503). */
    UNAVAILABLE(503, "service unavailable"),
    UNKNOWN(500, "unknown error");

    private final int status;
    private final String defaultMessage;

    ErrorCode(int status, String defaultMessage) {
        this.status = status;
        this.defaultMessage = defaultMessage;
    }

    public int status() {
        return status;
    }

    public String defaultMessage() {
        return defaultMessage;
    }
}
