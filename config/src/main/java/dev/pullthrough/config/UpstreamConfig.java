package dev.pullthrough.config;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * One registry the proxy pulls from. {@code name} is also its path prefix and its containerd
 * {@code ns=} value; {@code password} is already resolved from the file or environment;
 * {@code authHosts} are the other hosts (token realms) that may be asked for tokens and receive the
 * credentials (over HTTPS; the proxy's {@code upstream.TrustBoundary} applies them);
 * {@code timeouts} bound every wait on it; {@code caFile} is a PEM file of CA certificates it is
 * trusted under besides the usual ones (a registry behind a private CA), checked to parse at load;
 * {@code maxManifestSize} the largest manifest (or listing) it may send, refused before it is buffered;
 * {@code egress} how its requests leave this machine (its {@code proxy} key, else the proxy variables).
 * {@code credentials} where rotating credentials come from (a password file, a credential helper).
 * {@code fallback} the names of other configured upstreams asked, in order, for content by digest
 * when this one fails (issue 27); their own fallbacks are not followed.
 * {@code refreshAhead}: a tag pulled often is revalidated shortly before its TTL ends, in the
 * background, so that its clients never wait on the upstream (issue 28).
 */
public record UpstreamConfig(
        String name,
        URI url,
        boolean isDefault,
        Duration tagTtl,
        Duration maxStale,
        Optional<String> username,
        Optional<String> password,
        List<String> authHosts,
        List<String> allow,
        UpstreamTimeouts timeouts,
        Optional<Path> caFile,
        long maxManifestSize,
        Egress egress,
        CredentialConfig credentials,
        List<String> fallback,
        boolean refreshAhead) {

    public UpstreamConfig {
        authHosts = List.copyOf(authHosts);
        allow = List.copyOf(allow);
        fallback = List.copyOf(fallback);
    }

    /** Host and port as a client names this registry, e.g. {@code registry-1.docker.io}. */
    public String host() {
        return url.getPort() < 0 ? url.getHost() : url.getHost() + ":" + url.getPort();
    }

    /** Docker Hub puts one-part names under {@code library/}. */
    public boolean isDockerHub() {
        return name.equals("docker.io") || url.getHost().equals("registry-1.docker.io")
                || url.getHost().equals("docker.io") || url.getHost().equals("index.docker.io");
    }
}
