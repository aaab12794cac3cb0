package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code storage.syncInterval} (issue 28): 5s by default, 0s syncs each blob, beyond a minute is refused. */
class SyncIntervalConfigTest {
    private static Duration interval(String yaml, Map<String, String> env) {
        return ConfigLoader.fromYaml(yaml, env).storage().syncInterval();
    }

    @Test
    void syncInterval_absent_fiveSeconds() {
        assertEquals(Duration.ofSeconds(5), interval("", Map.of()));
    }

    @Test
    void syncInterval_zeroAllowed_environmentOverridesTheFile_printedInTheEffectiveConfig() {
        assertEquals(Duration.ZERO, interval("storage:\n  syncInterval: 0s\n", Map.of()));
        assertEquals(Duration.ofSeconds(2), interval("storage:\n  syncInterval: 0s\n", Map.of("PULLTHROUGH_STORAGE_SYNCINTERVAL", "2s")));
        assertTrue(EffectiveConfig.yaml(ConfigLoader.fromYaml("storage:\n  syncInterval: 10s\n", Map.of()))
                .contains("syncInterval: 10s"));
    }

    @Test
    void syncInterval_beyondAMinute_refusedNamingTheKeyAndTheFix() {
        ConfigException e = assertThrows(ConfigException.class, () -> interval("storage:\n  syncInterval: 2m\n", Map.of()));
        assertTrue(e.getMessage().startsWith("storage.syncInterval: '2m' is out of range"), e.getMessage());
        assertTrue(e.getMessage().contains("use 0s (sync each blob) up to 1m"), e.getMessage());
    }
}
