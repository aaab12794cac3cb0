package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code storage.directWrites} (issue 28): on unless turned off, by the file or the environment; anything else named. */
class DirectWritesConfigTest {
    private static StorageConfig storage(String yaml, Map<String, String> env) {
        return ConfigLoader.fromYaml(yaml, env).storage();
    }

    @Test
    void directWrites_absent_on_offByFileOrEnvironment_printedAndReadBack() {
        assertTrue(storage("", Map.of()).directWrites());
        assertFalse(storage("storage:\n  directWrites: false\n", Map.of()).directWrites());
        assertFalse(storage("", Map.of("PULLTHROUGH_STORAGE_DIRECTWRITES", "false")).directWrites());
        String printed = EffectiveConfig.yaml(ConfigLoader.fromYaml("storage:\n  directWrites: false\n", Map.of()));
        assertTrue(printed.contains("directWrites: false"), printed);
        assertFalse(ConfigLoader.fromYaml(printed, Map.of()).storage().directWrites());
    }

    @Test
    void directWrites_notABoolean_refusedNamingTheKeyAndTheFix() {
        ConfigException e = assertThrows(ConfigException.class, () -> storage("storage:\n  directWrites: sometimes\n", Map.of()));
        assertEquals("storage.directWrites", e.key(), e.getMessage());
        assertTrue(e.getMessage().contains("use true or false"), e.getMessage());
    }
}
