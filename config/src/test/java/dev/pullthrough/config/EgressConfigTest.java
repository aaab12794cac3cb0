package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which egress proxy a URL gets: {@code upstreams[].proxy}, else the proxy variables (issue 27). */
class EgressConfigTest {
    private static final String UPSTREAM = "upstreams:\n  - name: ghcr.io\n    url: https://ghcr.io\n";

    @TempDir
    Path temp;

    private static Egress egress(String extraYaml, Map<String, String> env) {
        return ConfigLoader.fromYaml(UPSTREAM + extraYaml, env).upstreams().get(0).egress();
    }

    private static Optional<String> proxyOf(Egress egress, String url) {
        return egress.proxyFor(URI.create(url)).map(EgressProxy::address);
    }

    // ---------------------------------------------------------------- the proxy key

    @Test
    void proxyKey_everyTargetThroughIt_variablesIgnored() {
        Egress egress = egress("    proxy: http://user:p%40ss@egress.internal:3128\n",
                Map.of("HTTPS_PROXY", "http://other:8080", "NO_PROXY", "*"));

        assertEquals(Optional.of("egress.internal:3128"), proxyOf(egress, "https://ghcr.io/v2/"));
        assertEquals(Optional.of("egress.internal:3128"), proxyOf(egress, "http://cdn.example:8080/blob"), "redirect targets too");
        EgressProxy proxy = egress.https().orElseThrow();
        assertEquals(Optional.of("user"), proxy.username());
        assertEquals(Optional.of("p@ss"), proxy.password(), "percent-decoded");
        assertEquals("upstreams[0].proxy", proxy.setting());
        assertFalse(proxy.toString().contains("p@ss"), proxy.toString());
    }

    @Test
    void proxyPasswordFile_andEnvironment_giveThePassword() throws Exception {
        Path file = temp.resolve("egress");
        Files.writeString(file, "from-file\n");
        assertEquals(Optional.of("from-file"), egress("    proxy: http://user@egress:3128\n    proxyPasswordFile: " + file + "\n",
                Map.of()).https().orElseThrow().password());
        assertEquals(Optional.of("from-env"), egress("    proxy: http://user@egress:3128\n",
                Map.of("PULLTHROUGH_UPSTREAMS_0_PROXYPASSWORD", "from-env")).https().orElseThrow().password());
    }

    @Test
    void proxyKey_mistakes_nameTheKeyWithoutThePassword() {
        ConfigException noPort = assertThrows(ConfigException.class, () -> egress("    proxy: http://u:hidden@egress\n", Map.of()));
        assertTrue(noPort.getMessage().contains("upstreams[0].proxy") && noPort.getMessage().contains("no port"), noPort.getMessage());
        assertFalse(noPort.getMessage().contains("hidden"), noPort.getMessage());
        ConfigException socks = assertThrows(ConfigException.class, () -> egress("    proxy: socks5://egress:1080\n", Map.of()));
        assertTrue(socks.getMessage().contains("not supported"), socks.getMessage());
        ConfigException twice = assertThrows(ConfigException.class, () -> egress(
                "    proxy: http://u:a@egress:3128\n    proxyPassword: b\n", Map.of()));
        assertTrue(twice.getMessage().contains("upstreams[0].proxy"), twice.getMessage());
        ConfigException orphan = assertThrows(ConfigException.class, () -> egress("    proxyPassword: b\n", Map.of()));
        assertTrue(orphan.getMessage().contains("upstreams[0].proxyPassword"), orphan.getMessage());
    }

    // ---------------------------------------------------------------- the variables

    @Test
    void variables_schemeChoosesProxy_noProxyExempts() {
        Egress egress = egress("", Map.of("HTTPS_PROXY", "secure-proxy:3128", "HTTP_PROXY", "http://plain-proxy:8080",
                "NO_PROXY", ".internal,10.0.0.0/8"));

        assertEquals(Optional.of("secure-proxy:3128"), proxyOf(egress, "https://ghcr.io/v2/"), "no scheme means http://");
        assertEquals(Optional.of("plain-proxy:8080"), proxyOf(egress, "http://cdn.example/blob"));
        assertEquals(Optional.empty(), proxyOf(egress, "https://registry.internal/v2/"));
        assertEquals(Optional.empty(), proxyOf(egress, "http://10.1.2.3:5000/v2/"));
        assertEquals("HTTPS_PROXY", egress.https().orElseThrow().setting());
    }

    @Test
    void variables_lowerCaseFirst_emptyIsUnset_noneIsDirect() {
        Egress egress = egress("", Map.of("https_proxy", "http://lower:1", "HTTPS_PROXY", "http://upper:2", "http_proxy", " "));

        assertEquals(Optional.of("lower:1"), proxyOf(egress, "https://ghcr.io/"));
        assertEquals(Optional.empty(), proxyOf(egress, "http://ghcr.io/"), "an empty variable is unset");
        assertTrue(egress("", Map.of()).isDirect());
        assertEquals(Optional.empty(), proxyOf(egress("", Map.of("HTTP_PROXY", "http://p:1")), "https://ghcr.io/"),
                "HTTP_PROXY is for http targets only");
    }

    @Test
    void variables_unusable_nameTheVariable() {
        ConfigException e = assertThrows(ConfigException.class, () -> egress("", Map.of("HTTPS_PROXY", "https://p:443")));
        assertTrue(e.getMessage().contains("HTTPS_PROXY"), e.getMessage());
    }

    @Test
    void toString_namesTheRouteWithoutPasswords() {
        assertEquals("via http://user@egress.internal:3128 (upstreams[0].proxy)",
                egress("    proxy: http://user:hunter2@egress.internal:3128\n", Map.of()).toString());
        assertEquals("https via http://u@p:1 (HTTPS_PROXY), http via http://p:2 (http_proxy), direct to NO_PROXY '.corp'",
                egress("", Map.of("HTTPS_PROXY", "http://u:hunter2@p:1", "http_proxy", "p:2", "NO_PROXY", ".corp")).toString());
        assertEquals("direct", egress("", Map.of()).toString());
        assertEquals("via http://[::1]:3128 (upstreams[0].proxy)", egress("    proxy: http://[::1]:3128\n", Map.of()).toString(),
                "an IPv6 proxy keeps one pair of brackets");
    }

    // ---------------------------------------------------------------- check

    @Test
    void effectiveConfig_proxyPasswordMasked_reloadsToTheSameProxy() {
        PullthroughConfig config = ConfigLoader.fromYaml(UPSTREAM + "    proxy: http://user:hunter2-egress@egress.internal:3128\n", Map.of());

        String printed = EffectiveConfig.yaml(config);

        assertFalse(printed.contains("hunter2-egress"), printed);
        assertTrue(printed.contains("proxy: \"http://user@egress.internal:3128\"") || printed.contains("proxy: http://user@egress.internal:3128"),
                printed);
        assertTrue(printed.contains("proxyPassword: \"" + EffectiveConfig.MASK + "\"") || printed.contains("proxyPassword: " + EffectiveConfig.MASK),
                printed);
        EgressProxy reloaded = ConfigLoader.fromYaml(printed, Map.of()).upstreams().get(0).egress().https().orElseThrow();
        assertEquals("egress.internal:3128", reloaded.address());
        assertEquals(Optional.of(EffectiveConfig.MASK), reloaded.password());
    }
}
