package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code upstreams[].authHosts} holds host names only: a URL or a port there would silently match nothing (issue 26). */
class AuthHostsConfigTest {
    private static PullthroughConfig load(String hosts) {
        return ConfigLoader.fromYaml("upstreams:\n  - name: ghcr.io\n    url: https://ghcr.io\n    authHosts: " + hosts + "\n", Map.of());
    }

    @Test
    void authHosts_namesAndAddresses_kept() {
        assertEquals(List.of("auth.example.com", "10.0.0.5", "[::1]", "localhost"),
                load("[auth.example.com, 10.0.0.5, \"[::1]\", localhost]").defaultUpstream().authHosts());
    }

    @Test
    void authHosts_url_refusedNamingTheKeyAndTheFix() {
        ConfigException e = assertThrows(ConfigException.class, () -> load("[auth.example.com, \"https://auth.example.com/token\"]"));
        assertEquals("upstreams[0].authHosts[1]", e.key());
        assertTrue(e.getMessage().contains("'https://auth.example.com/token' is not a host name"), e.getMessage());
        assertTrue(e.getMessage().contains("without scheme, port or path"), e.getMessage());
    }

    @Test
    void authHosts_hostWithPort_refused() {
        assertEquals("upstreams[0].authHosts[0]", assertThrows(ConfigException.class, () -> load("[\"auth.example.com:8443\"]")).key());
    }
}
