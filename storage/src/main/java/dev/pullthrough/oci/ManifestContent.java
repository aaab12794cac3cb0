package dev.pullthrough.oci;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
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
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads {@code bytes}; {@link InvalidManifestException} when they are not JSON or a descriptor is unusable. */
    public static ManifestContent parse(byte[] bytes) {
        JsonNode json;
        try {
            json = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new InvalidManifestException("not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidManifestException("unreadable: " + e.getMessage());
        }
        if (json == null || !json.isObject()) {
            throw new InvalidManifestException("not a JSON object");
        }
        JsonNode config = json.path("config");
        JsonNode mediaType = json.path("mediaType");
        return new ManifestContent(json.path("schemaVersion").asInt(-1),
                mediaType.isTextual() ? Optional.of(mediaType.asText()) : Optional.empty(),
                descriptors(json.path("manifests"), "manifests"),
                config.isObject() ? Optional.of(descriptor(config, "config")) : Optional.empty(),
                descriptors(json.path("layers"), "layers"));
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

    private static List<Descriptor> descriptors(JsonNode array, String field) {
        if (array.isMissingNode() || array.isNull()) {
            return List.of();
        }
        if (!array.isArray()) {
            throw new InvalidManifestException("'" + field + "' is not an array");
        }
        List<Descriptor> out = new ArrayList<>(array.size());
        for (JsonNode node : array) {
            out.add(descriptor(node, field));
        }
        return List.copyOf(out);
    }

    private static Descriptor descriptor(JsonNode node, String field) {
        JsonNode digest = node.path("digest");
        if (!digest.isTextual()) {
            throw new InvalidManifestException("a descriptor in '" + field + "' has no digest");
        }
        Digest parsed;
        try {
            parsed = Digest.parse(digest.asText());
        } catch (InvalidDigestException e) {
            throw new InvalidManifestException("a descriptor in '" + field + "' has an invalid digest: " + e.getMessage());
        }
        List<String> urls = new ArrayList<>();
        node.path("urls").forEach(u -> urls.add(u.asText()));
        return new Descriptor(node.path("mediaType").asText(""), parsed, node.path("size").asLong(-1), List.copyOf(urls));
    }
}
