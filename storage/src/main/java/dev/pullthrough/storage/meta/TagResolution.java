package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;

/** What a tag pointed to when last checked upstream, and when that was (epoch millis). */
public record TagResolution(Digest digest, String mediaType, long checkedAtMillis) {}
