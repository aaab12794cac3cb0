package dev.pullthrough.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Where an upstream's credentials come from besides an inline password (issue 27): {@code passwordFile},
 * read again when the upstream refuses what it held; or {@code helper}, a Docker credential helper
 * ({@code docker-credential-<helper> get}) whose answer is used for {@code ttl} and asked again at
 * once after a refusal. {@code ttl} applies to the helper only.
 */
public record CredentialConfig(Optional<Path> passwordFile, Optional<String> helper, Duration ttl) {
    /** How long a helper's answer is used when {@code credentialTtl} is not given. */
    public static final Duration DEFAULT_TTL = Duration.ofMinutes(10);

    /** Only an inline password (or none): nothing to read again. */
    public static final CredentialConfig STATIC = new CredentialConfig(Optional.empty(), Optional.empty(), DEFAULT_TTL);
}
