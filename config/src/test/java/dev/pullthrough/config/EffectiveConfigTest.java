package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EffectiveConfigTest {
    private static final String YAML = """
            admin:
              allowCidrs: ["10.0.0.0/8", "fd00::/8"]
            storage:
              maxSize: 20GiB
            upstreams:
              - name: docker.io
                url: https://registry-1.docker.io
                default: true
                username: someone
                password: hunter2-very-secret
                tagTtl: 90s
              - name: ghcr.io
                url: https://ghcr.io
                allow: ["org/*"]
            """;

    @Test
    void yaml_fileEnvironmentAndDefaults_secretsMasked() {
        PullthroughConfig config = ConfigLoader.fromYaml(YAML, Map.of("PULLTHROUGH_SERVER_PORT", "5050"));

        String printed = EffectiveConfig.yaml(config);

        assertTrue(printed.contains("  port: 5050"), printed);
        assertTrue(printed.contains("maxSize: 20GiB"), printed);
        assertTrue(printed.contains("- 10.0.0.0/8") && printed.contains("fd00:0:0:0:0:0:0:0/8"), printed);
        assertTrue(printed.contains("tagTtl: 90s"), printed);
        assertTrue(printed.contains("password: " + EffectiveConfig.MASK), printed);
        assertFalse(printed.contains("hunter2"), printed);
        assertTrue(printed.contains("headerTimeout:"), "defaults are shown: " + printed);
    }

    @Test
    void yaml_loadsBackToTheSameConfiguration() {
        PullthroughConfig config = ConfigLoader.fromYaml(YAML, Map.of("PULLTHROUGH_STORAGE_PATH", "/var/lib/pullthrough"));
        String printed = EffectiveConfig.yaml(config);

        PullthroughConfig reloaded = ConfigLoader.fromYaml(printed, Map.of());

        assertEquals(printed, EffectiveConfig.yaml(reloaded));
        assertEquals(config.storage(), reloaded.storage());
        assertEquals(config.upstreams().get(1), reloaded.upstreams().get(1));
    }

    @Test
    void formats_theLargestExactUnit() {
        assertEquals("5m", Durations.format(Duration.ofMinutes(5)));
        assertEquals("1500ms", Durations.format(Duration.ofMillis(1500)));
        assertEquals("7d", Durations.format(Duration.ofDays(7)));
        assertEquals("50GiB", Sizes.format(50L << 30));
        assertEquals("1536B", Sizes.format(1536));
        assertEquals("3KiB", Sizes.format(3072));
    }
}
