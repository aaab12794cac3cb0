package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ConfigLoaderTest {

    // ---------------------------------------------------------------- embedded defaults

    @Test
    void load_noFileNoEnvironment_runsOnEmbeddedDefaults() {
        PullthroughConfig config = ConfigLoader.load(Optional.empty(), Map.of());

        assertEquals("0.0.0.0", config.server().host());
        assertEquals(5000, config.server().port());
        assertEquals(5001, config.admin().port());
        assertEquals(Path.of("./data"), config.storage().path());
        assertEquals(50L << 30, config.storage().maxSize());
        assertFalse(config.offline());
        assertEquals(1, config.upstreams().size());
        UpstreamConfig hub = config.defaultUpstream();
        assertEquals("docker.io", hub.name());
        assertEquals(URI.create("https://registry-1.docker.io"), hub.url());
        assertEquals(Duration.ofMinutes(5), hub.tagTtl());
        assertTrue(hub.isDockerHub());
    }

    // ---------------------------------------------------------------- environment overrides

    @Test
    void load_environmentOverrides_winOverFile() {
        PullthroughConfig config = ConfigLoader.fromYaml("server:\n  port: 6000\nstorage:\n  maxSize: 1GiB\n",
                Map.of("PULLTHROUGH_SERVER_PORT", "5050", "PULLTHROUGH_STORAGE_PATH", "/var/lib/pt", "PULLTHROUGH_OFFLINE", "true"));

        assertEquals(5050, config.server().port());
        assertEquals(Path.of("/var/lib/pt"), config.storage().path());
        assertEquals(1L << 30, config.storage().maxSize());
        assertTrue(config.offline());
    }

    @Test
    void load_upstreamUrlFromEnvironmentWithoutFile_amendsDockerHubDefault() {
        PullthroughConfig config = ConfigLoader.fromYaml("", Map.of("PULLTHROUGH_UPSTREAMS_0_URL", "http://127.0.0.1:5005"));

        assertEquals(1, config.upstreams().size());
        assertEquals("docker.io", config.defaultUpstream().name());
        assertEquals(URI.create("http://127.0.0.1:5005"), config.defaultUpstream().url());
    }

    @Test
    void load_listFromEnvironment_splitsOnCommas() {
        PullthroughConfig config = ConfigLoader.fromYaml("", Map.of("PULLTHROUGH_UPSTREAMS_0_ALLOW", "library/*, myorg/*"));

        assertEquals(List.of("library/*", "myorg/*"), config.defaultUpstream().allow());
    }

    @Test
    void load_unknownEnvironmentKey_namesVariable() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.fromYaml("", Map.of("PULLTHROUGH_SERVER_PROT", "1")));
        assertEquals("PULLTHROUGH_SERVER_PROT", e.key());
        assertTrue(e.getMessage().contains("port"), e.getMessage());
    }

    // ---------------------------------------------------------------- mistakes name the key and the fix

    @Test
    void load_badDuration_namesKeyAndFix() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml(
                "upstreams:\n  - name: hub\n    url: https://registry-1.docker.io\n    tagTtl: 5x\n", Map.of()));
        assertEquals("upstreams[0].tagTtl", e.key());
        assertTrue(e.getMessage().contains("'5x' is not a duration; use e.g."), e.getMessage());
    }

    @Test
    void load_upstreamTimeouts_defaultsFileAndEnvironment() {
        PullthroughConfig defaults = ConfigLoader.fromYaml("", Map.of());
        assertEquals(UpstreamTimeouts.DEFAULTS, defaults.defaultUpstream().timeouts());
        PullthroughConfig set = ConfigLoader.fromYaml("upstreams:\n  - name: a\n    url: https://a.example\n"
                + "    connectTimeout: 2s\n    responseTimeout: 3s\n    manifestTimeout: 4s\n    blobMinRate: 8KiB\n",
                Map.of("PULLTHROUGH_UPSTREAMS_0_BLOBRATEWINDOW", "5s"));
        assertEquals(new UpstreamTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(3), Duration.ofSeconds(4), 8192,
                Duration.ofSeconds(5)), set.defaultUpstream().timeouts());
    }

    @Test
    void load_caFileNotPem_namesKeyAndFix(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path notPem = java.nio.file.Files.writeString(dir.resolve("ca.pem"), "hello\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml(
                "upstreams:\n  - name: a\n    url: https://a.example\n    caFile: " + notPem + "\n", Map.of()));
        assertEquals("upstreams[0].caFile", e.key());
        assertTrue(e.getMessage().contains("PEM"), e.getMessage());
        ConfigException missing = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml(
                "upstreams:\n  - name: a\n    url: https://a.example\n    caFile: " + dir.resolve("nope.pem") + "\n", Map.of()));
        assertEquals("upstreams[0].caFile", missing.key());
    }

    @Test
    void load_zeroTimeout_namesKeyAndFix() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml(
                "upstreams:\n  - name: a\n    url: https://a.example\n    manifestTimeout: 0s\n", Map.of()));
        assertEquals("upstreams[0].manifestTimeout: must be longer than 0; use e.g. 60s", e.getMessage());
    }

    @Test
    void load_unknownYamlKey_namesKeyAndKnownKeys() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml("server:\n  prot: 1\n", Map.of()));
        assertEquals("server.prot", e.key());
        assertTrue(e.getMessage().contains("[host, port, headerTimeout, maxConnectionsPerClient, drainDelay, drainTimeout, tls]"), e.getMessage());
    }

    @Test
    void load_portOutOfRange_namesKey() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml("server:\n  port: 70000\n", Map.of()));
        assertEquals("server.port", e.key());
    }

    @Test
    void load_badSize_namesKeyAndUnits() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml("storage:\n  maxSize: 50GB\n", Map.of()));
        assertEquals("storage.maxSize", e.key());
        assertTrue(e.getMessage().contains("GiB"), e.getMessage());
    }

    @Test
    void load_twoDefaultUpstreams_refused() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml(
                "upstreams:\n  - url: https://a.example\n    default: true\n  - url: https://b.example\n    default: true\n", Map.of()));
        assertEquals("upstreams", e.key());
        assertTrue(e.getMessage().contains("exactly one"), e.getMessage());
    }

    @Test
    void load_severalUpstreams_nameDefaultsToHost() {
        PullthroughConfig config = ConfigLoader.fromYaml(
                "upstreams:\n  - url: https://ghcr.io\n  - url: http://127.0.0.1:5005\n    default: true\n", Map.of());
        assertEquals("ghcr.io", config.upstreams().get(0).name());
        assertEquals("127.0.0.1:5005", config.defaultUpstream().name());
    }

    @Test
    void load_urlWithPath_refused() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml(
                "upstreams:\n  - url: https://ghcr.io/v2/\n", Map.of()));
        assertEquals("upstreams[0].url", e.key());
    }

    @Test
    void load_invalidYaml_saysSo() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml("server: [\n", Map.of()));
        assertTrue(e.getMessage().contains("not valid YAML"), e.getMessage());
    }

    @Test
    void load_duplicateKey_refused() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.fromYaml("server:\n  port: 1\nserver:\n  port: 2\n", Map.of()));
        assertTrue(e.getMessage().contains("Duplicate field 'server'"), e.getMessage());
    }
}
