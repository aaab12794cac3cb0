package dev.pullthrough.upstream;

import dev.pullthrough.config.UpstreamConfig;
import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where one upstream's credentials may go and which hosts it may make the proxy fetch from (issue
 * 26). An upstream's answers name URLs (a redirect's {@code Location}, a challenge's {@code realm});
 * they are the upstream's word, so they are held to its boundary:
 * <ul>
 * <li>only {@code http} and {@code https} URLs are fetched;</li>
 * <li>credentials (Basic, or the Bearer token the upstream gave) go to the upstream's own origin
 *     (scheme, host and port); a token realm may also get the Basic credentials on the upstream's
 *     host (a token server beside the registry) or an {@code authHosts} entry; never over plain HTTP
 *     when the upstream is HTTPS, and never in clear text to a host other than loopback;</li>
 * <li>a token realm is asked only on the upstream's registrable domain ({@code auth.docker.io} for
 *     {@code registry-1.docker.io}) or an {@code authHosts} entry; an upstream named by an IP address
 *     or a single label ({@code localhost}) has only that host.</li>
 * </ul>
 * Host names are compared as spelled (case aside): {@code 127.0.0.1} is not {@code localhost}.
 */
public final class TrustBoundary {
    private final URI upstream;
    private final List<String> authHosts;
    private final Optional<String> domain;

    public TrustBoundary(UpstreamConfig config) {
        this(config.url(), config.isDockerHub() ? concat(config.authHosts(), "auth.docker.io") : config.authHosts());
    }

    TrustBoundary(URI upstream, List<String> authHosts) {
        this.upstream = upstream;
        this.authHosts = List.copyOf(authHosts);
        this.domain = RegistrableDomain.of(upstream.getHost());
    }

    private static List<String> concat(List<String> hosts, String host) {
        return Stream.concat(hosts.stream(), Stream.of(host)).toList();
    }

    /** Whether {@code uri} is something the proxy fetches at all: {@code http} or {@code https}, with a host. */
    public static boolean isFetchable(URI uri) {
        return uri.getHost() != null && (isScheme(uri, "http") || isScheme(uri, "https"));
    }

    /** Whether a redirect target may carry the credentials sent to the upstream: only its own origin. */
    public boolean mayFollowWithCredentials(URI target) {
        return isSameOrigin(target) && travelsSafely(target);
    }

    /** Whether the upstream itself may get its Basic credentials (not over plain HTTP off this machine). */
    public boolean mayReceiveCredentials() {
        return travelsSafely(upstream);
    }

    /**
     * Whether a token realm may get the Basic credentials: the upstream's origin, its host on another
     * port, or an {@code authHosts} entry; over HTTPS, or plain HTTP when the upstream itself is plain
     * HTTP on loopback.
     */
    public boolean mayReceiveCredentials(URI realm) {
        return isFetchable(realm) && (isSameHost(realm) || isAuthHost(realm)) && travelsSafely(realm);
    }

    /** Why a token realm may not be asked at all, or empty when it may. */
    public Optional<String> realmRefusal(URI realm) {
        if (!isFetchable(realm)) {
            return Optional.of("the token realm " + realm + " is not an http or https URL with a host");
        }
        if (isSameHost(realm) || isAuthHost(realm)) {
            return Optional.empty();
        }
        Optional<String> realmDomain = RegistrableDomain.of(realm.getHost());
        if (domain.isPresent() && domain.equals(realmDomain)) {
            return Optional.empty();
        }
        return Optional.of("the token realm " + realm.getScheme() + "://" + realm.getRawAuthority() + realm.getRawPath()
                + " is outside the upstream's trust boundary (" + domain.orElse(upstream.getHost())
                + "); list its host in upstreams[].authHosts to trust it");
    }

    // ---------------------------------------------------------------- inside

    /** Never from HTTPS down to HTTP, and never in clear text to a host other than loopback. */
    private boolean travelsSafely(URI target) {
        if (isScheme(target, "https")) {
            return true;
        }
        return isScheme(target, "http") && isScheme(upstream, "http") && isLoopback(target.getHost());
    }

    private boolean isSameOrigin(URI target) {
        return isFetchable(target) && target.getScheme().equalsIgnoreCase(upstream.getScheme()) && isSameHost(target)
                && port(target) == port(upstream);
    }

    private boolean isSameHost(URI target) {
        return target.getHost() != null && target.getHost().equalsIgnoreCase(upstream.getHost());
    }

    private boolean isAuthHost(URI target) {
        return target.getHost() != null && authHosts.stream().anyMatch(target.getHost()::equalsIgnoreCase);
    }

    private static int port(URI uri) {
        return uri.getPort() >= 0 ? uri.getPort() : isScheme(uri, "https") ? 443 : 80;
    }

    private static boolean isScheme(URI uri, String scheme) {
        return uri.getScheme() != null && uri.getScheme().toLowerCase(Locale.ROOT).equals(scheme);
    }

    /** This machine, as a URL may name it: {@code localhost}, 127.0.0.0/8, {@code [::1]}. */
    private static boolean isLoopback(String host) {
        return host != null && (host.equalsIgnoreCase("localhost") || host.matches("127\\.[0-9.]+") || host.equals("[::1]"));
    }
}
