package dev.pullthrough.inventory;

import dev.pullthrough.oci.Descriptor;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidManifestException;
import dev.pullthrough.oci.ManifestContent;
import dev.pullthrough.storage.meta.MetadataStore;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Every cached manifest and what it names (child manifests, config, layers), read once: what an
 * image consists of, and which blobs another image still needs. Holds digests and media types, not
 * manifest bytes.
 */
final class ManifestGraph {
    /** A cached manifest: its media type, its size, and the digests it names. */
    record Node(String mediaType, long size, List<Digest> children, List<Digest> blobs) {}

    private final Map<Digest, Node> nodes = new HashMap<>();

    static ManifestGraph read(MetadataStore metadata) {
        ManifestGraph graph = new ManifestGraph();
        metadata.forEachManifest(manifest -> {
            List<Digest> children = List.of();
            List<Digest> blobs = List.of();
            try {
                ManifestContent content = ManifestContent.parse(manifest.bytes());
                children = content.manifests().stream().map(Descriptor::digest).toList();
                blobs = content.blobs().stream().map(Descriptor::digest).toList();
            } catch (InvalidManifestException e) {
                // admitted manifests always parse; one that does not names nothing here
            }
            graph.nodes.put(manifest.digest(), new Node(manifest.mediaType(), manifest.bytes().length, children, blobs));
        });
        return graph;
    }

    Optional<Node> node(Digest digest) {
        return Optional.ofNullable(nodes.get(digest));
    }

    boolean isManifest(Digest digest) {
        return nodes.containsKey(digest);
    }

    /** Every manifest that another cached manifest names (a platform image of a cached index). */
    Set<Digest> children() {
        Set<Digest> children = new HashSet<>();
        nodes.values().forEach(node -> children.addAll(node.children()));
        return children;
    }

    /** {@code roots} and every digest they name, through child manifests, whether cached or not. */
    Set<Digest> closure(Collection<Digest> roots) {
        Set<Digest> seen = new HashSet<>();
        Deque<Digest> todo = new ArrayDeque<>(roots);
        while (!todo.isEmpty()) {
            Digest digest = todo.pop();
            if (seen.add(digest)) {
                Node node = nodes.get(digest);
                if (node != null) {
                    todo.addAll(node.children());
                    todo.addAll(node.blobs());
                }
            }
        }
        return seen;
    }
}
