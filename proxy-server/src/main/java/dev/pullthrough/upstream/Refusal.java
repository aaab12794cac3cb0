package dev.pullthrough.upstream;

import java.util.Optional;

/**
 * Why the upstream did not give what was asked, in the proxy's terms rather than HTTP's. An
 * {@linkplain #isOutage() outage} says nothing about the thing asked for (serve what is cached);
 * the others are the upstream's answer about it.
 */
public sealed interface Refusal {
    /** The upstream does not have it (404 without an error body of its own). */
    record NotFound() implements Refusal {}

    /**
     * The upstream refused the request with an OCI error body of its own (400, 404 or 406, e.g. the
     * reference registry's "OCI manifest found, but accept header does not support OCI manifests"):
     * a client gets exactly that, with that status.
     */
    record OwnError(int status, byte[] body) implements Refusal {}

    /** The upstream refused the request as asked with another 4xx status and no error body of its own. */
    record Rejected(int status) implements Refusal {}

    /** The upstream refused the proxy's credentials (or wants some it does not have). */
    record Unauthorized() implements Refusal {}

    /** Docker Hub's answer, after a fresh token, for a repository that is missing or private. */
    record InsufficientScope() implements Refusal {}

    /** The upstream denied access (403). */
    record Denied() implements Refusal {}

    /**
     * The upstream or its token realm refused the credentials the proxy sent ({@code status} 401 or
     * 403), fresh ones included: expired, revoked, rotated (issue 27). Says nothing about the thing
     * asked for, so what is cached is served as in an outage.
     */
    record CredentialsRefused(int status) implements Refusal {}

    /** The upstream is rate-limiting the proxy (429), with its {@code Retry-After} when it sent one. */
    record RateLimited(Optional<String> retryAfter) implements Refusal {}

    /** The upstream could not be reached or sent garbage (connection, TLS, a broken answer); {@code reason} says which. */
    record Unavailable(String reason) implements Refusal {}

    /** The upstream answered with a server error (5xx): it is there, but will not say. */
    record ServerError(int status) implements Refusal {}

    /**
     * The proxy had no memory free for the body the upstream was about to send (its
     * {@link BodyBudget}) for as long as a request may wait: the client may try again shortly.
     */
    record Busy(String reason) implements Refusal {}

    /** The upstream did not answer within a deadline; {@code reason} says which. */
    record TimedOut(String reason) implements Refusal {}

    /**
     * Whether the upstream is down, limiting us or refusing our credentials (serve what is cached),
     * rather than answering about the thing.
     */
    default boolean isOutage() {
        return this instanceof RateLimited || this instanceof Unavailable || this instanceof TimedOut
                || this instanceof ServerError || this instanceof CredentialsRefused;
    }

    /**
     * Whether the upstream could not be asked at all (unreachable or silent), as opposed to one that
     * answered and declined to decide (429, 5xx): only then may the cache decide alone.
     */
    default boolean isUnreachable() {
        return this instanceof Unavailable || this instanceof TimedOut;
    }
}
