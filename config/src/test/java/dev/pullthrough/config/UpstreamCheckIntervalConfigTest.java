package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code admin.upstreamCheckInterval} (issue 27): 5m by default, 0s turns the background checks off, too often is refused. */
class UpstreamCheckIntervalConfigTest {
    private static Duration interval(String yaml, Map<String, String> env) {
        return ConfigLoader.fromYaml(yaml, env).admin().upstreamCheckInterval();
    }

    @Test
    void upstreamCheckInterval_absent_fiveMinutes() {
        assertEquals(Duration.ofMinutes(5), interval("", Map.of()));
    }

    @Test
    void upstreamCheckInterval_zero_off_andEnvironmentOverridesTheFile() {
        assertEquals(Duration.ZERO, interval("admin:\n  upstreamCheckInterval: 0s\n", Map.of()));
        assertEquals(Duration.ofMinutes(1), interval("admin:\n  upstreamCheckInterval: 0s\n",
                Map.of("PULLTHROUGH_ADMIN_UPSTREAMCHECKINTERVAL", "1m")));
        assertTrue(EffectiveConfig.yaml(ConfigLoader.fromYaml("admin:\n  upstreamCheckInterval: 15m\n", Map.of()))
                .contains("upstreamCheckInterval: 15m"));
    }

    @Test
    void upstreamCheckInterval_tooOften_refusedNamingTheKeyAndTheFix() {
        ConfigException e = assertThrows(ConfigException.class, () -> interval("admin:\n  upstreamCheckInterval: 5s\n", Map.of()));
        assertTrue(e.getMessage().startsWith("admin.upstreamCheckInterval: '5s' is too often"), e.getMessage());
        assertTrue(e.getMessage().contains("use 0s (no background checks) or at least 30s"), e.getMessage());
    }
}
