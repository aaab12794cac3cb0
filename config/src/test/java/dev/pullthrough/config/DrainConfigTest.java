package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code server.drainDelay} and {@code server.drainTimeout} (issue 30): 5s and 30s by default, both counted from SIGTERM. */
class DrainConfigTest {
    private static ServerConfig server(String yaml, Map<String, String> env) {
        return ConfigLoader.fromYaml(yaml, env).server();
    }

    @Test
    void drain_absent_fiveSecondsDelayThirtySecondsTimeout() {
        ServerConfig server = server("", Map.of());
        assertEquals(Duration.ofSeconds(5), server.drainDelay());
        assertEquals(Duration.ofSeconds(30), server.drainTimeout());
    }

    @Test
    void drain_zeroDelayAllowed_environmentOverridesTheFile_printedInTheEffectiveConfig() {
        assertEquals(Duration.ZERO, server("server:\n  drainDelay: 0s\n", Map.of()).drainDelay());
        ServerConfig overridden = server("server:\n  drainDelay: 0s\n  drainTimeout: 10s\n",
                Map.of("PULLTHROUGH_SERVER_DRAINDELAY", "2s", "PULLTHROUGH_SERVER_DRAINTIMEOUT", "1m"));
        assertEquals(Duration.ofSeconds(2), overridden.drainDelay());
        assertEquals(Duration.ofMinutes(1), overridden.drainTimeout());
        String printed = EffectiveConfig.yaml(ConfigLoader.fromYaml("server:\n  drainDelay: 3s\n  drainTimeout: 20s\n", Map.of()));
        assertTrue(printed.contains("drainDelay: 3s") && printed.contains("drainTimeout: 20s"), printed);
        ServerConfig again = ConfigLoader.fromYaml(printed, Map.of()).server();
        assertEquals(Duration.ofSeconds(3), again.drainDelay());
        assertEquals(Duration.ofSeconds(20), again.drainTimeout());
    }

    @Test
    void drainDelay_negative_refusedNamingTheKeyAndTheFix() {
        ConfigException e = assertThrows(ConfigException.class, () -> server("server:\n  drainDelay: -1s\n", Map.of()));
        assertEquals("server.drainDelay", e.key(), e.getMessage());
        assertTrue(e.getMessage().contains("is not a duration"), e.getMessage());
    }

    @Test
    void drainTimeout_notLongerThanTheDelay_refusedNamingBothKeys() {
        ConfigException e = assertThrows(ConfigException.class, () -> server("server:\n  drainTimeout: 5s\n", Map.of()));
        assertEquals("server.drainTimeout", e.key());
        assertTrue(e.getMessage().contains("server.drainDelay (5s)") && e.getMessage().contains("longer than drainDelay"), e.getMessage());
        assertEquals(Duration.ofSeconds(1), server("server:\n  drainDelay: 0s\n  drainTimeout: 1s\n", Map.of()).drainTimeout());
    }

    @Test
    void drainTimeout_zero_refused() {
        ConfigException e = assertThrows(ConfigException.class, () -> server("server:\n  drainTimeout: 0s\n", Map.of()));
        assertEquals("server.drainTimeout", e.key());
    }
}
