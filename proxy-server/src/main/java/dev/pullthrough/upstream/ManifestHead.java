package dev.pullthrough.upstream;

import java.util.Optional;

/** What the upstream says of a manifest without sending it: the digest it declared (unchecked text). */
public record ManifestHead(Optional<String> declaredDigest) {}
