package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code upstreams[].fallback} names other configured upstreams, each once, never the upstream itself (issue 27). */
class FallbackConfigTest {
    private static PullthroughConfig load(String fallback) {
        return ConfigLoader.fromYaml("""
                upstreams:
                  - name: docker.io
                    url: https://registry-1.docker.io
                    default: true
                    fallback: %s
                  - name: mirror.example
                    url: https://mirror.example
                  - name: sister.example
                    url: https://sister.example
                """.formatted(fallback), Map.of());
    }

    @Test
    void fallback_otherUpstreams_keptInOrder() {
        PullthroughConfig config = load("[sister.example, mirror.example]");
        assertEquals(List.of("sister.example", "mirror.example"), config.defaultUpstream().fallback());
        assertEquals(List.of(), config.upstreams().get(1).fallback());
    }

    @Test
    void fallback_fromEnvironment_commaSeparated() {
        PullthroughConfig config = ConfigLoader.fromYaml("""
                upstreams:
                  - name: docker.io
                    url: https://registry-1.docker.io
                  - name: mirror.example
                    url: https://mirror.example
                    default: false
                """, Map.of("PULLTHROUGH_UPSTREAMS_0_FALLBACK", "mirror.example", "PULLTHROUGH_UPSTREAMS_0_DEFAULT", "true"));
        assertEquals(List.of("mirror.example"), config.defaultUpstream().fallback());
    }

    @Test
    void fallback_inEffectiveConfig_shown() {
        assertTrue(EffectiveConfig.yaml(load("[mirror.example]")).contains("mirror.example"));
    }

    @Test
    void fallback_unknownName_refusedNamingTheKeyAndTheNames() {
        ConfigException e = assertThrows(ConfigException.class, () -> load("[mirror.example, mirorr.example]"));
        assertEquals("upstreams[0].fallback[1]", e.key());
        assertTrue(e.getMessage().contains("'mirorr.example' is not a configured upstream"), e.getMessage());
        assertTrue(e.getMessage().contains("docker.io, mirror.example, sister.example"), e.getMessage());
    }

    @Test
    void fallback_itself_refused() {
        ConfigException e = assertThrows(ConfigException.class, () -> load("[docker.io]"));
        assertEquals("upstreams[0].fallback[0]", e.key());
        assertTrue(e.getMessage().contains("this upstream itself"), e.getMessage());
    }

    @Test
    void fallback_twice_refused() {
        ConfigException e = assertThrows(ConfigException.class, () -> load("[mirror.example, sister.example, mirror.example]"));
        assertEquals("upstreams[0].fallback[2]", e.key());
        assertTrue(e.getMessage().contains("named twice"), e.getMessage());
    }
}
