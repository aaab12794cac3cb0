package dev.pullthrough.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The digests a manifest names: an index's manifests, an image's config and layers. A registry
 * accepts a manifest only when what it names is in the same repository, so a verified manifest
 * from repository R tells us R holds all of these too.
 */
final class ManifestReferences {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ManifestReferences() {}

    static List<Digest> of(byte[] manifest) {
        List<Digest> digests = new ArrayList<>();
        try {
            JsonNode json = JSON.readTree(manifest);
            for (JsonNode child : json.path("manifests")) {
                add(digests, child);
            }
            add(digests, json.path("config"));
            for (JsonNode layer : json.path("layers")) {
                add(digests, layer);
            }
        } catch (IOException e) {
            return List.of(); // not JSON we understand: link nothing beyond the manifest itself
        }
        return digests;
    }

    private static void add(List<Digest> digests, JsonNode descriptor) {
        if (descriptor.hasNonNull("digest")) {
            try {
                digests.add(Digest.parse(descriptor.path("digest").asText()));
            } catch (IllegalArgumentException ignored) {
                // a descriptor we cannot use; nothing to link
            }
        }
    }
}
