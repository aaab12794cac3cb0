package dev.pullthrough.inventory;

import dev.pullthrough.inventory.CacheInventory.Repository;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.PullCounts;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.TagKey;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Removes images from the cache ({@code DELETE /cache/images}, {@code purge}): a tag, a digest or a
 * whole repository. Its tags and its own links go (never another repository's), and of its
 * manifests and blobs those that nothing else links or needs (another tag, another repository's
 * image or blob, a manifest pulled by digest), never one that is being served or downloaded.
 * One purge at a time, so two never decide on the same state twice.
 */
public final class CachePurge {
    private final MetadataStore metadata;
    private final CacheJanitor janitor;
    private final CacheInventory inventory;
    private final PullCounts pulls;
    private final Clock clock;

    public CachePurge(MetadataStore metadata, CacheJanitor janitor, CacheInventory inventory, PullCounts pulls, Clock clock) {
        this.metadata = metadata;
        this.janitor = janitor;
        this.inventory = inventory;
        this.pulls = pulls;
        this.clock = clock;
    }

    /** Purges one repository ({@code reference} empty), one tag of it, or one digest. */
    public synchronized PurgeResult purge(String image, Repository repository, Optional<Reference> reference) {
        return purge(image, repository, reference, ManifestGraph.read(metadata));
    }

    /**
     * With the manifests as read before: one read serves a series of purges, since a manifest purged
     * meanwhile is neither linked nor tagged any more, and what is no longer indexed is not removed twice.
     */
    private PurgeResult purge(String image, Repository repository, Optional<Reference> reference, ManifestGraph graph) {
        Map<String, Set<Digest>> tags = new TreeMap<>(); // this repository's tags, every accept set's digest
        Map<String, Digest> ownTargets = new TreeMap<>();
        metadata.forEachTag((key, resolution) -> {
            if (key.upstream().equals(repository.upstream()) && key.repository().equals(repository.repository())) {
                tags.computeIfAbsent(key.tag(), t -> new HashSet<>()).add(resolution.digest());
                if (key.acceptKey().equals(TagKey.OWN)) {
                    ownTargets.put(key.tag(), resolution.digest());
                }
            }
        });
        Set<Digest> linked = new HashSet<>();
        metadata.forEachLink(repository.upstream(), repository.repository(), linked::add);

        Set<String> tagsGoing = new HashSet<>();
        Set<Digest> roots = new HashSet<>();
        if (reference.isEmpty()) {
            tagsGoing.addAll(tags.keySet());
            roots.addAll(linked);
            tags.values().forEach(roots::addAll);
        } else if (reference.get() instanceof Reference.Tag tag) {
            if (tags.containsKey(tag.value())) {
                tagsGoing.add(tag.value());
                roots.addAll(tags.get(tag.value()));
            }
        } else {
            // Issue 26: a digest acts on this repository's link only. One the repository does not
            // hold (neither linked nor a tag's target) is nothing to purge here, whoever else holds it.
            Digest digest = ((Reference.ByDigest) reference.get()).value();
            ownTargets.forEach((tag, target) -> {
                if (target.equals(digest)) {
                    tagsGoing.add(tag);
                }
            });
            if (linked.contains(digest) || !tagsGoing.isEmpty()) {
                roots.add(digest);
            }
        }
        if (roots.isEmpty()) {
            return PurgeResult.nothing(image);
        }
        tagsGoing.forEach(tag -> metadata.removeTag(repository.upstream(), repository.repository(), tag));

        Set<Digest> going = graph.closure(roots);
        // This repository's links to what goes, except what it still needs itself (another tag's
        // image, another image it holds). Other repositories' links are theirs: untouched.
        Set<Digest> ownStaying = reference.isEmpty() ? Set.of()
                : graph.closure(ownStillWanted(tags, tagsGoing, linked, going, graph));
        for (Digest digest : going) {
            if (linked.contains(digest) && !ownStaying.contains(digest)) {
                metadata.unlink(repository.upstream(), repository.repository(), digest);
            }
        }
        // Bytes go only when nothing links or needs them any more: links as they are now.
        Set<Digest> staying = graph.closure(stillWanted());
        List<Digest> removable = new ArrayList<>();
        for (Digest digest : going) {
            if (!staying.contains(digest)) {
                removable.add(digest);
            }
        }
        roots.forEach(root -> pulls.forget(repository.upstream(), repository.repository(), root));

        CacheJanitor.Removal removal = janitor.remove(removable);
        List<IndexEntry> removed = removal.removed();
        int manifests = (int) removed.stream().filter(e -> e.kind() == IndexEntry.Kind.MANIFEST).count();
        long bytes = removed.stream().mapToLong(IndexEntry::size).sum();
        return new PurgeResult(image, tagsGoing.size(), manifests, removed.size() - manifests, bytes, removal.keptInUse());
    }

    /** What this repository still needs after the purge: its remaining tags' images and the manifests it holds that stay. */
    private static Set<Digest> ownStillWanted(Map<String, Set<Digest>> tags, Set<String> tagsGoing, Set<Digest> linked,
                                              Set<Digest> going, ManifestGraph graph) {
        Set<Digest> wanted = new HashSet<>();
        tags.forEach((tag, digests) -> {
            if (!tagsGoing.contains(tag)) {
                wanted.addAll(digests);
            }
        });
        for (Digest digest : linked) {
            if (graph.isManifest(digest) && !going.contains(digest)) {
                wanted.add(digest);
            }
        }
        return wanted;
    }

    /**
     * What the cache as a whole still needs: every remaining tag's image, and every digest some
     * repository links (a manifest with all it names, or a blob on its own).
     */
    private Set<Digest> stillWanted() {
        Set<Digest> wanted = new HashSet<>();
        metadata.forEachTag((key, resolution) -> wanted.add(resolution.digest()));
        metadata.forEachLink(link -> wanted.add(link.digest()));
        return wanted;
    }

    /** Purges every image not pulled for {@code unused} (by the last access of its manifests). */
    public synchronized List<PurgeResult> purgeUnusedFor(Duration unused) {
        long before = clock.millis() - unused.toMillis();
        List<PurgeResult> results = new ArrayList<>();
        ManifestGraph graph = ManifestGraph.read(metadata); // once, not once per image
        for (CachedImage image : inventory.list(Optional.empty())) {
            if (image.lastPulledMillis() < before) {
                results.add(purge(image.name() + "@" + image.digest(), new Repository(image.upstream(), image.repository()),
                        Optional.of(new Reference.ByDigest(image.digest())), graph));
            }
        }
        return results;
    }
}
