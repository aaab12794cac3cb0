package dev.pullthrough.upstream;

import java.util.Optional;

/**
 * A manifest as the upstream served it: its media type (without parameters), the digest it declared
 * ({@code Docker-Content-Digest}, unchecked text), and the exact bytes.
 */
public record ManifestBody(String mediaType, Optional<String> declaredDigest, byte[] bytes) {}
