package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code credentialHelper}, {@code credentialTtl} and a {@code passwordFile} kept to be read again (issue 27). */
class CredentialConfigTest {
    @TempDir
    Path temp;

    private static PullthroughConfig load(String... keys) {
        return ConfigLoader.fromYaml("upstreams:\n  - name: ecr\n    url: https://123.dkr.ecr.us-east-1.amazonaws.com\n    "
                + String.join("\n    ", keys) + "\n", Map.of());
    }

    @Test
    void credentialHelper_givenAlone_keptWithItsDefaultTtl() {
        CredentialConfig credentials = load("credentialHelper: ecr-login").defaultUpstream().credentials();
        assertEquals(Optional.of("ecr-login"), credentials.helper());
        assertEquals(Duration.ofMinutes(10), credentials.ttl());
        assertEquals(Duration.ofMinutes(3), load("credentialHelper: ecr-login", "credentialTtl: 3m").defaultUpstream()
                .credentials().ttl());
    }

    @Test
    void credentialHelper_withUsernameAndPassword_refusedNamingTheKeyAndTheFix() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> load("credentialHelper: ecr-login", "username: AWS", "password: s3cret"));
        assertEquals("upstreams[0].credentialHelper", e.key());
        assertTrue(e.getMessage().contains("is set together with username"), e.getMessage());
        assertTrue(e.getMessage().contains("keep only one"), e.getMessage());
        assertFalse(e.getMessage().contains("s3cret"), e.getMessage());
    }

    @Test
    void credentialHelper_pathOrShell_refused() {
        ConfigException e = assertThrows(ConfigException.class, () -> load("credentialHelper: \"../bin/evil; rm\""));
        assertEquals("upstreams[0].credentialHelper", e.key());
        assertTrue(e.getMessage().contains("docker-credential-"), e.getMessage());
    }

    @Test
    void credentialHelper_fromTheEnvironment_likeEveryKey() {
        PullthroughConfig config = ConfigLoader.fromYaml("upstreams:\n  - name: gcr.io\n    url: https://gcr.io\n",
                Map.of("PULLTHROUGH_UPSTREAMS_0_CREDENTIALHELPER", "gcr", "PULLTHROUGH_UPSTREAMS_0_CREDENTIALTTL", "45m"));
        assertEquals(Optional.of("gcr"), config.defaultUpstream().credentials().helper());
        assertEquals(Duration.ofMinutes(45), config.defaultUpstream().credentials().ttl());
    }

    @Test
    void credentialTtl_zero_refused() {
        assertEquals("upstreams[0].credentialTtl",
                assertThrows(ConfigException.class, () -> load("credentialHelper: gcr", "credentialTtl: 0s")).key());
    }

    @Test
    void passwordFile_keptForReadingAgain_andNeverShownByCheck() throws Exception {
        Path file = temp.resolve("hub");
        Files.writeString(file, "s3cret\n");
        PullthroughConfig config = load("username: puller", "passwordFile: " + file);
        assertEquals(Optional.of(file), config.defaultUpstream().credentials().passwordFile());
        assertEquals(Optional.of("s3cret"), config.defaultUpstream().password());
        String effective = EffectiveConfig.yaml(config);
        assertFalse(effective.contains("s3cret"), effective);
        assertTrue(effective.contains("passwordFile: " + file), effective);
        assertTrue(EffectiveConfig.yaml(load("credentialHelper: ecr-login")).contains("credentialHelper: ecr-login"));
    }
}
