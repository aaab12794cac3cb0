package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;

/** The exact bytes of a verified manifest and the media type the upstream served them under. */
public record StoredManifest(Digest digest, String mediaType, byte[] bytes) {}
