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

/** {@code cluster}: off when absent, needs the shared bucket, the secret from its file, mistakes named. */
class ClusterConfigTest {
    private static final String S3 = "storage:\n  s3:\n    bucket: shared\n";

    @TempDir
    Path dir;

    private Path secret(String text) throws Exception {
        Path file = dir.resolve("cluster-secret");
        Files.writeString(file, text + "\n");
        return file;
    }

    @Test
    void absent_aReplicaOnItsOwn() {
        assertEquals(Optional.empty(), ConfigLoader.fromYaml(S3, Map.of()).cluster());
    }

    @Test
    void everyKey_secretRead_notPrinted() throws Exception {
        Path secret = secret("0123456789abcdef0123456789abcdef");
        PullthroughConfig config = ConfigLoader.fromYaml(S3 + "cluster:\n  redis: redis://10.0.0.2:6379\n"
                + "  advertise: http://10.0.0.5:5001\n  secretFile: " + secret + "\n", Map.of());

        ClusterConfig cluster = config.cluster().orElseThrow();
        assertEquals(URI.create("redis://10.0.0.2:6379"), cluster.redis());
        assertEquals(URI.create("http://10.0.0.5:5001"), cluster.advertise());
        assertEquals("0123456789abcdef0123456789abcdef", cluster.secret());
        String printed = EffectiveConfig.yaml(config);
        assertFalse(printed.contains("0123456789abcdef") || cluster.toString().contains("0123456789abcdef"), printed);
        assertEquals(cluster.secret(), ConfigLoader.fromYaml(printed, Map.of()).cluster().orElseThrow().secret());
    }

    @Test
    void mistakes_nameTheKeyAndTheFix() throws Exception {
        Path secret = secret("0123456789abcdef0123456789abcdef");
        String rest = "  advertise: http://10.0.0.5:5001\n  secretFile: " + secret + "\n";
        assertMistake("cluster:\n  redis: redis://r:6379\n" + rest, "cluster");
        assertMistake(S3 + "cluster:\n" + rest, "cluster.redis");
        assertMistake(S3 + "cluster:\n  redis: http://r:6379\n" + rest, "cluster.redis");
        assertMistake(S3 + "cluster:\n  redis: redis://r:6379\n  secretFile: " + secret + "\n", "cluster.advertise");
        assertMistake(S3 + "cluster:\n  redis: redis://r:6379\n  advertise: http://10.0.0.5:5001\n", "cluster.secretFile");
        assertMistake(S3 + "cluster:\n  redis: redis://r:6379\n  advertise: http://10.0.0.5:5001\n  secretFile: "
                + secret("short") + "\n", "cluster.secretFile");
    }

    private static void assertMistake(String yaml, String key) {
        ConfigException mistake = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml(yaml, Map.of()));
        assertTrue(mistake.getMessage().startsWith(key + ":") || mistake.getMessage().startsWith(key + " "), mistake.getMessage());
    }
}
