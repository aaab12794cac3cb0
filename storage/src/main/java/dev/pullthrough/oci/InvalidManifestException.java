package dev.pullthrough.oci;

/** Manifest bytes that are not a JSON manifest whose descriptors we can read. */
public final class InvalidManifestException extends IllegalArgumentException {
    public InvalidManifestException(String message) {
        super(message);
    }
}
