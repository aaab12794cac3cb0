package dev.pullthrough.inventory;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.PullCounts;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.TagKey;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The images the cache holds ({@code GET /cache/images}, {@code list}): per repository, the
 * manifests its tags point at and the manifests pulled by digest that no cached index names.
 * Reads every cached manifest and tag once, and the links of the repositories asked for.
 */
public final class CacheInventory {
    /** One repository of one upstream, as the metadata store keys it. */
    public record Repository(String upstream, String repository) {}

    private final MetadataStore metadata;
    private final PullCounts pulls;
    private final String defaultUpstream;

    public CacheInventory(MetadataStore metadata, PullCounts pulls, String defaultUpstream) {
        this.metadata = metadata;
        this.pulls = pulls;
        this.defaultUpstream = defaultUpstream;
    }

    /** Every cached image, or those of one repository; ordered by upstream, repository and first tag. */
    public List<CachedImage> list(Optional<Repository> only) {
        ManifestGraph graph = ManifestGraph.read(metadata);
        Set<Digest> children = graph.children();
        // repository -> root digest -> its tags (sorted), for tags whose own manifest is cached
        Map<Repository, Map<Digest, Set<String>>> roots = new TreeMap<>(
                Comparator.comparing(Repository::upstream).thenComparing(Repository::repository));
        metadata.forEachTag((key, resolution) -> {
            Repository repository = new Repository(key.upstream(), key.repository());
            if (key.acceptKey().equals(TagKey.OWN) && only.map(repository::equals).orElse(true)
                    && graph.isManifest(resolution.digest())) {
                roots.computeIfAbsent(repository, r -> new HashMap<>())
                        .computeIfAbsent(resolution.digest(), d -> new TreeSet<>()).add(key.tag());
            }
        });
        if (only.isPresent()) {
            Repository repository = only.get();
            metadata.forEachLink(repository.upstream(), repository.repository(),
                    digest -> addUntagged(roots, repository, digest, graph, children));
        } else {
            metadata.forEachLink(link -> addUntagged(roots, new Repository(link.upstream(), link.repository()),
                    link.digest(), graph, children));
        }
        List<CachedImage> images = new ArrayList<>();
        roots.forEach((repository, digests) -> digests.forEach((digest, tags) ->
                images.add(describe(repository, digest, List.copyOf(tags), graph))));
        images.sort(Comparator.comparing(CachedImage::upstream).thenComparing(CachedImage::repository)
                .thenComparing(image -> image.tags().isEmpty() ? "\uffff" : image.tags().get(0))
                .thenComparing(image -> image.digest().toString()));
        return images;
    }

    private static void addUntagged(Map<Repository, Map<Digest, Set<String>>> roots, Repository repository, Digest digest,
                                    ManifestGraph graph, Set<Digest> children) {
        if (graph.isManifest(digest) && !children.contains(digest)) {
            roots.computeIfAbsent(repository, r -> new HashMap<>()).computeIfAbsent(digest, d -> new TreeSet<>());
        }
    }

    private CachedImage describe(Repository repository, Digest root, List<String> tags, ManifestGraph graph) {
        long size = 0;
        long lastPulled = 0;
        for (Digest digest : graph.closure(List.of(root))) {
            Optional<IndexEntry> entry = metadata.entry(digest);
            if (entry.isEmpty()) {
                continue; // named but not cached (another platform, a foreign layer)
            }
            size += entry.get().size();
            if (entry.get().kind() == IndexEntry.Kind.MANIFEST) {
                lastPulled = Math.max(lastPulled, entry.get().lastAccessMillis());
            }
        }
        String name = repository.upstream().equals(defaultUpstream) ? repository.repository()
                : repository.upstream() + "/" + repository.repository();
        return new CachedImage(repository.upstream(), repository.repository(), name, tags, root,
                graph.node(root).map(ManifestGraph.Node::mediaType).orElse(""), size, lastPulled,
                pulls.pulls(repository.upstream(), repository.repository(), root));
    }
}
