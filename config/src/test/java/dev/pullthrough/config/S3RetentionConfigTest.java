package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code storage.s3.retention} (issue 30): off when absent, read and printed, refused without a cluster or under a day. */
class S3RetentionConfigTest {
    @TempDir
    Path dir;

    private String cluster() throws Exception {
        Path secret = dir.resolve("cluster-secret");
        Files.writeString(secret, "0123456789abcdef0123456789abcdef\n");
        return "cluster:\n  redis: redis://10.0.0.2:6379\n  advertise: http://10.0.0.5:5001\n  secretFile: " + secret + "\n";
    }

    @Test
    void absent_bucketKeepsEverything() {
        assertEquals(Optional.empty(), ConfigLoader.fromYaml("storage:\n  s3:\n    bucket: b\n", Map.of())
                .storage().s3().orElseThrow().retention());
    }

    @Test
    void withCluster_readAndPrinted() throws Exception {
        PullthroughConfig config = ConfigLoader.fromYaml("storage:\n  s3:\n    bucket: b\n    retention: 30d\n" + cluster(), Map.of());

        assertEquals(Optional.of(Duration.ofDays(30)), config.storage().s3().orElseThrow().retention());
        String printed = EffectiveConfig.yaml(config);
        assertTrue(printed.contains("retention: 30d"), printed);
        assertEquals(Optional.of(Duration.ofDays(30)), ConfigLoader.fromYaml(printed, Map.of()).storage().s3().orElseThrow().retention());
    }

    @Test
    void fromTheEnvironment() throws Exception {
        PullthroughConfig config = ConfigLoader.fromYaml("storage:\n  s3:\n    bucket: b\n" + cluster(),
                Map.of("PULLTHROUGH_STORAGE_S3_RETENTION", "7d"));

        assertEquals(Optional.of(Duration.ofDays(7)), config.storage().s3().orElseThrow().retention());
    }

    @Test
    void withoutCluster_refusedNamingTheKeyAndTheFix() {
        ConfigException refused = assertThrows(ConfigException.class,
                () -> ConfigLoader.fromYaml("storage:\n  s3:\n    bucket: b\n    retention: 30d\n", Map.of()));

        assertTrue(refused.getMessage().startsWith("storage.s3.retention") && refused.getMessage().contains("needs cluster")
                && refused.getMessage().contains("add cluster"), refused.getMessage());
    }

    @Test
    void underADayOrNotADuration_refused() throws Exception {
        String cluster = cluster();
        for (String text : new String[] {"12h", "thirty days"}) {
            ConfigException refused = assertThrows(ConfigException.class,
                    () -> ConfigLoader.fromYaml("storage:\n  s3:\n    bucket: b\n    retention: " + text + "\n" + cluster, Map.of()));
            assertTrue(refused.getMessage().startsWith("storage.s3.retention"), refused.getMessage());
        }
    }
}
