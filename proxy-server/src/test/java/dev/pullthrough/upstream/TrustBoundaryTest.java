package dev.pullthrough.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.config.ConfigLoader;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The trust decisions of issue 26 one by one: where credentials may go and which token realms are asked. */
class TrustBoundaryTest {
    private static TrustBoundary boundary(String upstream, String... authHosts) {
        return new TrustBoundary(URI.create(upstream), List.of(authHosts));
    }

    private static URI uri(String text) {
        return URI.create(text);
    }

    // ---------------------------------------------------------------- redirects: the upstream's own origin only

    @Test
    void mayFollowWithCredentials_sameSchemeHostAndPort_yes() {
        TrustBoundary registry = boundary("https://registry.example.com");
        assertTrue(registry.mayFollowWithCredentials(uri("https://registry.example.com/v2/a/blobs/x")));
        assertTrue(registry.mayFollowWithCredentials(uri("https://REGISTRY.example.com:443/v2/a/blobs/x")), "default port spelled out");
    }

    @Test
    void mayFollowWithCredentials_httpsDowngradedToHttpOnSameHost_no() {
        // Issue 26, hole 7: no port on either side, so host and port matched while the scheme did not.
        TrustBoundary registry = boundary("https://[::ffff:127.0.0.1]");
        assertFalse(registry.mayFollowWithCredentials(uri("http://[::ffff:127.0.0.1]/blob")));
        assertFalse(boundary("https://127.0.0.1:5000").mayFollowWithCredentials(uri("http://127.0.0.1:5000/blob")));
    }

    @Test
    void mayFollowWithCredentials_otherPortHostOrSpelling_no() {
        TrustBoundary registry = boundary("https://registry.example.com");
        assertFalse(registry.mayFollowWithCredentials(uri("https://registry.example.com:8443/blob")));
        assertFalse(registry.mayFollowWithCredentials(uri("https://cdn.example.com/blob")), "the same domain is not the same origin");
        assertFalse(boundary("http://127.0.0.1:5000").mayFollowWithCredentials(uri("http://localhost:5000/blob")));
    }

    @Test
    void mayFollowWithCredentials_authHostIsNotARedirectTarget_no() {
        assertFalse(boundary("https://registry.example.com", "auth.example.com")
                .mayFollowWithCredentials(uri("https://auth.example.com/blob")));
    }

    @Test
    void mayFollowWithCredentials_plainHttpUpstreamOffThisMachine_no() {
        assertTrue(boundary("http://127.0.0.1:5000").mayFollowWithCredentials(uri("http://127.0.0.1:5000/blob")), "loopback");
        assertFalse(boundary("http://registry.internal:5000").mayFollowWithCredentials(uri("http://registry.internal:5000/blob")),
                "clear text over the network");
    }

    // ---------------------------------------------------------------- token realms: who gets Basic

    @Test
    void mayReceiveCredentials_realmOnUpstreamHostOtherPort_yes() {
        assertTrue(boundary("https://registry.example.com").mayReceiveCredentials(uri("https://registry.example.com:5001/token")));
        assertTrue(boundary("http://127.0.0.1:5000").mayReceiveCredentials(uri("http://127.0.0.1:5001/token")));
    }

    @Test
    void mayReceiveCredentials_authHostsHttpsOnly_unlessUpstreamIsHttp() {
        TrustBoundary https = boundary("https://registry.example.com", "auth.other.net", "localhost");
        assertTrue(https.mayReceiveCredentials(uri("https://auth.other.net/token")));
        assertFalse(https.mayReceiveCredentials(uri("http://auth.other.net/token")), "a downgrade");
        assertFalse(https.mayReceiveCredentials(uri("http://localhost:8080/token")), "a downgrade, even on loopback");
        assertTrue(boundary("http://127.0.0.1:5000", "localhost").mayReceiveCredentials(uri("http://localhost:8080/token")),
                "a plain-HTTP upstream on loopback may have a plain-HTTP realm on loopback");
        assertFalse(boundary("https://registry.example.com").mayReceiveCredentials(uri("https://auth.example.com/token")),
                "the same domain is asked for a token, but gets no credentials unless listed");
    }

    @Test
    void mayReceiveCredentials_dockerHubsTokenService_yes() {
        TrustBoundary hub = new TrustBoundary(ConfigLoader.fromYaml("", Map.of()).defaultUpstream());
        assertTrue(hub.mayReceiveCredentials(uri("https://auth.docker.io/token")));
        assertFalse(hub.mayReceiveCredentials(uri("http://auth.docker.io/token")));
    }

    // ---------------------------------------------------------------- token realms: which are asked at all

    @Test
    void realmRefusal_registrableDomainOfUpstream_allowed() {
        assertEquals(Optional.empty(), boundary("https://registry-1.docker.io").realmRefusal(uri("https://auth.docker.io/token")));
        assertEquals(Optional.empty(), boundary("https://registry.gitlab.com").realmRefusal(uri("https://gitlab.com/jwt/auth")));
        assertEquals(Optional.empty(), boundary("https://registry.example.co.uk").realmRefusal(uri("https://auth.example.co.uk/t")));
    }

    @Test
    void realmRefusal_otherDomainOrPublicSuffixNeighbour_refusedNamingTheFix() {
        Optional<String> refusal = boundary("https://registry.example.com").realmRefusal(uri("https://evil.example.net/token"));
        assertTrue(refusal.isPresent());
        assertTrue(refusal.get().contains("evil.example.net") && refusal.get().contains("upstreams[].authHosts"), refusal.get());
        assertTrue(boundary("https://registry.example.co.uk").realmRefusal(uri("https://other.co.uk/token")).isPresent(),
                "co.uk is a public suffix, not a shared domain");
        assertTrue(boundary("https://alice.github.io").realmRefusal(uri("https://mallory.github.io/token")).isPresent(),
                "private suffixes count too");
    }

    @Test
    void realmRefusal_authHostsEntry_allowed() {
        assertEquals(Optional.empty(), boundary("https://registry.example.com", "auth.other.net")
                .realmRefusal(uri("https://auth.other.net/token")));
    }

    @Test
    void realmRefusal_loopbackOrIpUpstream_onlyThatExactHost() {
        // Issue 26, hole 9: an internal service on localhost named as the realm of an upstream on 127.0.0.1.
        TrustBoundary loopback = boundary("http://127.0.0.1:5000");
        assertTrue(loopback.realmRefusal(uri("http://localhost:8080/internal-secret")).isPresent());
        assertTrue(loopback.realmRefusal(uri("http://127.0.0.2:8080/token")).isPresent());
        assertEquals(Optional.empty(), loopback.realmRefusal(uri("http://127.0.0.1:5001/token")), "a token server beside it");
        assertTrue(boundary("http://localhost:5000").realmRefusal(uri("http://intranet.localhost/token")).isPresent());
        assertTrue(boundary("https://10.0.0.5").realmRefusal(uri("https://10.0.0.6/token")).isPresent());
        assertTrue(boundary("https://registry.example.com").realmRefusal(uri("https://127.0.0.1/token")).isPresent());
    }

    @Test
    void realmRefusal_notHttp_refused() {
        TrustBoundary registry = boundary("https://registry.example.com");
        assertTrue(registry.realmRefusal(uri("ftp://registry.example.com/token")).get().contains("not an http or https URL"));
        assertTrue(registry.realmRefusal(uri("file:///etc/passwd")).isPresent());
        assertFalse(TrustBoundary.isFetchable(uri("ftp://registry.example.com/blob")));
        assertTrue(TrustBoundary.isFetchable(uri("HTTPS://registry.example.com/blob")));
    }
}
