package dev.pullthrough.oci;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The descriptors a manifest names: an index's (or manifest list's) {@code manifests}, an image
 * manifest's {@code config} and {@code layers}, with the {@code schemaVersion} ({@code -1} when
 * missing) and the {@code mediaType} it declares. The one reader of manifest JSON: whatever walks
 * a manifest's tree (admission, prefetch, export, import) asks it.
 */
public record ManifestContent(int schemaVersion, Optional<String> mediaType, List<Descriptor> manifests,
                              Optional<Descriptor> config, List<Descriptor> layers) {
    /**
     * Reads {@code bytes}; {@link InvalidManifestException} when they are not JSON, a descriptor is
     * unusable, or reading them would take more work than any manifest needs ({@link ManifestReader}).
     */
    public static ManifestContent parse(byte[] bytes) {
        return ManifestReader.read(bytes);
    }

    /** Every digest named, children first, then the config, then the layers. */
    public List<Digest> references() {
        List<Digest> digests = new ArrayList<>();
        manifests.forEach(d -> digests.add(d.digest()));
        config.ifPresent(d -> digests.add(d.digest()));
        layers.forEach(d -> digests.add(d.digest()));
        return digests;
    }

    /** The blobs an image manifest needs from the registry: its config, then its layers that are not foreign. */
    public List<Descriptor> blobs() {
        List<Descriptor> blobs = new ArrayList<>();
        config.ifPresent(blobs::add);
        layers.stream().filter(d -> !d.isForeign()).forEach(blobs::add);
        return blobs;
    }
}
