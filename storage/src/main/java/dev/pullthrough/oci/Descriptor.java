package dev.pullthrough.oci;

import java.util.List;

/**
 * What a manifest says of another piece of content: its media type, digest and size, and the
 * {@code urls} a non-distributable (foreign) layer is fetched from instead of the registry.
 */
public record Descriptor(String mediaType, Digest digest, long size, List<String> urls) {
    /** A layer that lives outside the registry by design (Windows base layers): never fetched through it. */
    public boolean isForeign() {
        return !urls.isEmpty() && mediaType.contains("foreign");
    }
}
