package dev.pullthrough.upstream;

import java.util.Optional;

/**
 * A manifest as the upstream served it: its media type (without parameters), the digest it declared
 * ({@code Docker-Content-Digest}, unchecked text), and the exact bytes, with the share of the
 * {@link BodyBudget} they hold: whoever takes the body closes it once done with the bytes.
 */
public record ManifestBody(String mediaType, Optional<String> declaredDigest, byte[] bytes, BodyBudget.Permit permit)
        implements AutoCloseable {
    /** A body that holds no share of the budget (it did not come from an upstream's answer). */
    public ManifestBody(String mediaType, Optional<String> declaredDigest, byte[] bytes) {
        this(mediaType, declaredDigest, bytes, BodyBudget.Permit.NONE);
    }

    @Override
    public void close() {
        permit.close();
    }
}
