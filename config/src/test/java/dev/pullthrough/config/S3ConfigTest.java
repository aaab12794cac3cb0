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

/** {@code storage.s3}: off when absent, every key read, secrets from a file or the environment, mistakes named. */
class S3ConfigTest {
    @TempDir
    Path dir;

    @Test
    void absent_localDiskOnly() {
        assertEquals(Optional.empty(), ConfigLoader.fromYaml("storage:\n  maxSize: 1GiB\n", Map.of()).storage().s3());
    }

    @Test
    void everyKey_secretFromFile_maskedWhenPrinted() throws Exception {
        Path secret = dir.resolve("s3");
        Files.writeString(secret, "s3cr3t\n");
        PullthroughConfig config = ConfigLoader.fromYaml("storage:\n  s3:\n    bucket: pullthrough\n"
                + "    endpoint: http://127.0.0.1:9000\n    region: eu-west-1\n    pathStyle: true\n    accessKey: AK\n"
                + "    secretKeyFile: " + secret + "\n    prefix: cache/\n    redirect: true\n", Map.of());

        assertEquals(new S3Config("pullthrough", Optional.of(URI.create("http://127.0.0.1:9000")), "eu-west-1", true,
                Optional.of("AK"), Optional.of("s3cr3t"), "cache/", true), config.storage().s3().orElseThrow());
        String printed = EffectiveConfig.yaml(config);
        assertTrue(printed.contains("secretKey: (masked)") && !printed.contains("s3cr3t"), printed);
        assertEquals(config.storage().s3().get().bucket(),
                ConfigLoader.fromYaml(printed, Map.of()).storage().s3().orElseThrow().bucket());
    }

    @Test
    void fromTheEnvironmentAlone_defaults() {
        S3Config s3 = ConfigLoader.fromYaml("", Map.of("PULLTHROUGH_STORAGE_S3_BUCKET", "shared",
                "PULLTHROUGH_STORAGE_S3_ACCESSKEY", "AK", "PULLTHROUGH_STORAGE_S3_SECRETKEY", "from-env")).storage().s3().orElseThrow();

        assertEquals("shared", s3.bucket());
        assertEquals(Optional.of("from-env"), s3.secretKey());
        assertEquals("us-east-1", s3.region());
        assertFalse(s3.pathStyle() || s3.redirect());
        assertEquals(Optional.empty(), s3.endpoint());
        assertEquals("", s3.prefix());
    }

    @Test
    void mistakes_nameTheKeyAndTheFix() {
        assertMistake("storage:\n  s3:\n    region: us-east-1\n", "storage.s3.bucket");
        assertMistake("storage:\n  s3:\n    bucket: b\n    accessKey: AK\n", "storage.s3.secretKey");
        assertMistake("storage:\n  s3:\n    bucket: b\n    secretKey: x\n", "storage.s3.accessKey");
        assertMistake("storage:\n  s3:\n    bucket: b\n    prefix: cache\n", "storage.s3.prefix");
        assertMistake("storage:\n  s3:\n    bucket: b\n    endpoint: not a url\n", "storage.s3.endpoint");
        assertMistake("storage:\n  s3:\n    bucket: b\n    secretKey: x\n    secretKeyFile: /f\n    accessKey: a\n",
                "storage.s3.secretKey");
    }

    private static void assertMistake(String yaml, String key) {
        ConfigException mistake = assertThrows(ConfigException.class, () -> ConfigLoader.fromYaml(yaml, Map.of()));
        assertTrue(mistake.getMessage().startsWith(key), mistake.getMessage());
    }
}
